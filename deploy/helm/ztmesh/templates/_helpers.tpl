{{/* The one image of the install: the CA and the webhook run it, and the webhook injects it. */}}
{{- define "ztmesh.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The labels every object carries (deploy/kubernetes/kustomization.yaml "labels"). */}}
{{- define "ztmesh.labels" -}}
app.kubernetes.io/part-of: ztmesh
{{- end -}}
