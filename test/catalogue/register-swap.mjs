import { register } from 'node:module';

register('./swap-hook.mjs', import.meta.url);
