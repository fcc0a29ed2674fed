export {
  createTelemetry,
  quietTelemetry,
  processTelemetry,
  shutdownProcessTelemetry,
  parseConnectionString,
  TelemetryConfigError,
  type AppTelemetry,
  type TelemetryOptions,
} from './appInsights.js';
export { scrubDimensions, scrubText, secretReason, secretValueReason, SCRUBBED_DIMENSION, REDACTED, type ScrubResult, type SecretReason } from './scrub.js';
