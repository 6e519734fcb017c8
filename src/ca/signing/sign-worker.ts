// A signing worker thread: holds the issuer material and runs signCsr() off the main thread.
// Loaded from dist/ by SignerPool; errors travel back as {name, code, message}.
import { parentPort, workerData } from 'node:worker_threads';
import { createPrivateKey } from 'node:crypto';
import { loadIssuer } from '../../pki/issuer.js';
import { signCsr, type SignJob } from './signing-policy.js';
import type { WorkerData, WorkerReply, WorkerRequest } from './signer.js';

const data = workerData as WorkerData;
const issuer = loadIssuer(Buffer.from(data.caCertDer), createPrivateKey(data.keyPem));

parentPort!.on('message', (batch: WorkerRequest[]) => {
  const replies: WorkerReply[] = batch.map(({ id, job }) => {
    try {
      const j: SignJob = { ...job, csr: Buffer.from(job.csr) };
      return { id, result: signCsr(j, issuer) };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { id, error: { name: err.name, code: err.code ?? 'internal', message: err.message } };
    }
  });
  parentPort!.postMessage(replies);
});
