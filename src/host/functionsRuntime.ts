// The runtime classes of `@azure/functions`, imported the way that works under native Node ESM.
//
// The package is a webpack-built CommonJS bundle. Node's ESM loader detects only some of its exports as named
// exports (`app`, `input`, `output`, `trigger` are found); `HttpRequest`, `HttpResponse` and
// `InvocationContext` are not, so `import { HttpResponse } from '@azure/functions'` fails at load time with
// "does not provide an export named" under node/tsx/the Functions host, even though vitest accepts it. The
// default import is the whole `module.exports` and always has them.
import azureFunctions from '@azure/functions';

export const { HttpRequest, HttpResponse, InvocationContext } = azureFunctions;
