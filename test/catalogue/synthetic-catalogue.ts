/**
 * A copy of the catalogue with one synthetic provider added (documentation addresses and an example domain, so no
 * real service answers). Loaded in place of `src/core/endpoints/catalogue.ts` by `swap-hook.mjs`.
 */
import { type MetadataService, SERVICES as REAL, SHARED_LINK_LOCAL } from '../../src/core/endpoints/catalogue.ts';

export const SYNTHETIC: MetadataService = {
  provider: 'synthcloud',
  service: 'synth-imds',
  name: 'Synthetic Cloud instance metadata (test only)',
  ipv4: ['198.51.100.77'],
  ipv6: ['2001:db8:5e::254'],
  hostnames: ['meta.synthcloud.example'],
  ports: [80],
  identifyingPaths: [],
  paths: [
    { pattern: /^\/synth\/v1\/credentials/, pathClass: 'credentials' },
    { pattern: /^\/synth\/v1\/?$/, pathClass: 'index' },
  ],
  headers: [],
  doc: 'https://example.com/synthcloud/metadata',
};

export const SERVICES: readonly MetadataService[] = [...REAL, SYNTHETIC];
export { SHARED_LINK_LOCAL };
