export { DEFAULT_BODY_LIMIT_BYTES, readBodyText, readJsonBody, type ReadBodyOptions, type ReadJsonOptions } from './body.js';
export { errorResponse, mapError, withErrorBoundary, type ErrorMapping } from './errorBoundary.js';
export { HttpError, RequestValidationError } from './errors.js';
export { jsonError, jsonResponse, type ErrorBody } from './responses.js';
export { readRotationRequest, rotationRequestSchema, type RotationRequest } from './rotationRequest.js';
export { validateObject, type FieldSpec, type Infer, type ObjectSchema } from './schema.js';
export { HttpRequest, HttpResponse, InvocationContext } from './runtime.js';
