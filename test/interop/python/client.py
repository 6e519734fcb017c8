"""py-spiffe's Workload API client, driven by ztmesh's interop tests (test/interop/*.test.ts).

Reads SPIFFE_ENDPOINT_SOCKET as a py-spiffe app does and prints one JSON line per result.
  client.py x509 N    -- stream_x509_contexts: one line per update, exits after N
  client.py jwt AUD   -- fetch_jwt_svid, fetch_jwt_bundles, then JwtSvid.parse_and_validate with that bundle
"""
import hashlib
import json
import sys
import threading

from cryptography.hazmat.primitives import serialization
from spiffe import JwtSvid, WorkloadApiClient


def emit(value):
    print(json.dumps(value), flush=True)


def key_sha256(cert):
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def watch_x509(client, wanted):
    seen = []
    done = threading.Event()

    def on_success(context):
        svid = context.default_svid
        emit({'spiffeId': str(svid.spiffe_id), 'serial': format(svid.leaf.serial_number, 'x'), 'publicKeySha256': key_sha256(svid.leaf)})
        seen.append(svid)
        if len(seen) >= wanted:
            done.set()

    def on_error(err):
        emit({'watchError': str(err)})

    handler = client.stream_x509_contexts(on_success=on_success, on_error=on_error)
    ok = done.wait(30)
    handler.cancel()
    if not ok:
        emit({'error': '%d of %d updates' % (len(seen), wanted)})
        sys.exit(1)


def fetch_jwt(client, audience):
    svid = client.fetch_jwt_svid(audience={audience})
    bundles = client.fetch_jwt_bundles()
    bundle = bundles.get_bundle_for_trust_domain(svid.spiffe_id.trust_domain)
    validated = JwtSvid.parse_and_validate(svid.token, bundle, {audience})
    emit({'spiffeId': str(svid.spiffe_id), 'validatedId': str(validated.spiffe_id), 'expiry': validated.expiry, 'bundleKeys': sorted(bundle.jwt_authorities.keys())})


def main():
    with WorkloadApiClient(default_timeout=20) as client:
        if sys.argv[1] == 'x509':
            watch_x509(client, int(sys.argv[2]))
        elif sys.argv[1] == 'jwt':
            fetch_jwt(client, sys.argv[2])
        else:
            raise SystemExit('usage: client.py x509 N | jwt AUDIENCE')


if __name__ == '__main__':
    main()
