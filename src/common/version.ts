// The ztmesh version, read once from package.json (which the image ships beside dist/), so that the CLI, the
// injected image, `ztmesh_build_info` and the status pages all say the same thing (docs/design.md "Versions").
import { readFileSync } from 'node:fs';

/** The version of this ztmesh (package.json "version"), e.g. "0.1.0". */
export const ZTMESH_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The repository of the ztmesh image; its tag is the version. */
export const IMAGE_REPOSITORY = 'ghcr.io/ztmesh/ztmesh';

/** The image of this version: what `ztmesh inject` injects unless told otherwise. */
export const DEFAULT_IMAGE = `${IMAGE_REPOSITORY}:${ZTMESH_VERSION}`;
