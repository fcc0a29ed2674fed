// Runtime classes of `@azure/functions` for handlers. Import them from here, not by name from the package:
// under native Node ESM (tsx, `func start`, Azure) the CommonJS bundle exposes `app`, `input`, `output` and
// `trigger` as named exports but not `HttpRequest`, `HttpResponse` or `InvocationContext`, so
// `import { HttpResponse } from '@azure/functions'` fails at load time there although vitest accepts it.
// Type-only imports (`import type { HttpResponseInit } ...`) are erased and always fine.
import azureFunctions from '@azure/functions';

export const { HttpRequest, HttpResponse, InvocationContext } = azureFunctions;
