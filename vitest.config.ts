import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/network-guard.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start their own sandbox and Azurite on free ports; two cores here.
    maxWorkers: 2,
    env: {
      // The applicationinsights SDK must open no connection except to the ingestion endpoint.
      APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
      WEBSITE_SITE_NAME: 'mtls-rotator-test',
    },
  },
});
