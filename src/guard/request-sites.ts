/**
 * Where each cloud SDK's metadata request is made: the file inside the package and the call on that line. A frame
 * of an allowlisted SDK anywhere on the stack is not enough — an SDK reads application-supplied options (getters,
 * a `logger`), and a bound built-in (`Reflect.apply.bind(Reflect, http.get, http, [url])`) called from there
 * leaves no application frame between the SDK and the request. So the built-in allowlist counts only when the
 * innermost frame is one of these lines — the SDK (or its transport) calling its HTTP client — and the stack
 * passes from one package into the next only on one of them (gaxios calling node-fetch, gcp-metadata calling
 * gaxios). Files are named as
 * inside the package (`dist-cjs/index.js`); the call is text that must appear on the line the frame is on, so a
 * new release that moves the line keeps working, and one that renames the call fails closed.
 */
export interface RequestSite {
  /** The file, relative to the package directory, with `/` separators. */
  readonly file: string;
  /** Text on the line of the call (the frame's line in that file). */
  readonly call: string;
}

export const REQUEST_SITES: Readonly<Record<string, readonly RequestSite[]>> = Object.freeze({
  // AWS SDK v3: httpRequest() in the instance/container metadata provider (bundled into one file for CommonJS).
  '@smithy/credential-provider-imds': Object.freeze([
    { file: 'dist-cjs/index.js', call: 'node_http.request(' },
    { file: 'dist-es/remoteProvider/httpRequest.js', call: 'request(' },
  ]),
  '@aws-sdk/credential-provider-imds': Object.freeze([
    { file: 'dist-cjs/remoteProvider/httpRequest.js', call: 'request(' },
    { file: 'dist-es/remoteProvider/httpRequest.js', call: 'request(' },
  ]),
  // The container credential provider sends through NodeHttpHandler.
  '@aws-sdk/credential-provider-http': Object.freeze([
    { file: 'dist-cjs/index.js', call: 'requestHandler.handle(' },
    { file: 'dist-es/fromHttp/fromHttp.js', call: 'requestHandler.handle(' },
  ]),
  '@smithy/node-http-handler': Object.freeze([
    { file: 'dist-cjs/index.js', call: 'requestFunc(' },
    { file: 'dist-es/node-http-handler.js', call: 'requestFunc(' },
  ]),
  // google-auth-library → gcp-metadata → gaxios, which calls node-fetch or the global fetch.
  'gcp-metadata': Object.freeze([{ file: 'build/src/index.js', call: 'requestMethod(' }]),
  gaxios: Object.freeze([
    { file: 'build/cjs/src/gaxios.js', call: 'fetchImpl(' },
    { file: 'build/esm/src/gaxios.js', call: 'fetchImpl(' },
    { file: 'build/src/gaxios.js', call: 'fetchImpl(' },
  ]),
  'node-fetch': Object.freeze([
    { file: 'src/index.js', call: 'send(' },
    { file: 'lib/index.js', call: 'send(' },
    { file: 'lib/index.mjs', call: 'send(' },
  ]),
  // @azure/identity → @azure/core-rest-pipeline → the Node HTTP client (in @typespec/ts-http-runtime since 1.19).
  '@typespec/ts-http-runtime': Object.freeze([
    { file: 'dist/esm/nodeHttpClient.js', call: '.request(' },
    { file: 'dist/commonjs/nodeHttpClient.js', call: '.request(' },
  ]),
  '@azure/core-rest-pipeline': Object.freeze([
    { file: 'dist/esm/defaultHttpClient.js', call: 'client.sendRequest(' },
    { file: 'dist/commonjs/defaultHttpClient.js', call: 'client.sendRequest(' },
    { file: 'dist/esm/nodeHttpClient.js', call: '.request(' },
    { file: 'dist/commonjs/nodeHttpClient.js', call: '.request(' },
    { file: 'dist/index.js', call: '.request(' },
  ]),
});
