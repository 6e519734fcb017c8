// Schema validation of Kubernetes objects with kubernetes-models (the OpenAPI schemas of the API server).
import { Pod, Service, ServiceAccount, ConfigMap, Secret, Namespace, ReplicationController } from 'kubernetes-models/v1';
import { Deployment, StatefulSet, DaemonSet, ReplicaSet } from 'kubernetes-models/apps/v1';
import { Job, CronJob } from 'kubernetes-models/batch/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelCtor = new (data: any) => { validate(): void };

const MODELS: Record<string, ModelCtor> = {
  'v1/Pod': Pod, 'v1/Service': Service, 'v1/ServiceAccount': ServiceAccount, 'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret, 'v1/Namespace': Namespace, 'v1/ReplicationController': ReplicationController,
  'apps/v1/Deployment': Deployment, 'apps/v1/StatefulSet': StatefulSet, 'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/ReplicaSet': ReplicaSet, 'batch/v1/Job': Job, 'batch/v1/CronJob': CronJob,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole, 'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role, 'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

/** Validates one object (List items one by one); throws with the kind, name and schema error. */
export function validateK8sObject(obj: Record<string, unknown>): void {
  if (obj.kind === 'List') {
    for (const item of (obj.items as Record<string, unknown>[]) ?? []) validateK8sObject(item);
    return;
  }
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema model for ${key}`);
  try {
    new Model(obj).validate();
  } catch (e) {
    const name = (obj.metadata as { name?: string } | undefined)?.name;
    throw new Error(`${key} ${name}: ${(e as Error).message}`);
  }
}
