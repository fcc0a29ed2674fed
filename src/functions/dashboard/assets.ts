// The dashboard's browser assets (script, style sheet, icon). In the deployed bundle they are compiled in by
// scripts/bundle.mjs (`npm run build`, as ./embedded.ts), so nothing is built or read from disk at run time; from
// sources (tsx, vitest, `npm run compile`) they are built by scripts/dashboard.mjs with esbuild, a devDependency, on
// the first request.
export type DashboardAssets = Readonly<Record<string, string>>;

let loading: Promise<DashboardAssets> | undefined;

export function dashboardAssets(): Promise<DashboardAssets> {
  // A failed build is not kept: the next request tries again and reports it again.
  loading ??= load().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

async function load(): Promise<DashboardAssets> {
  // Imported only here, so the assets' chunk loads with the first dashboard request and never on a cold start.
  const { EMBEDDED_ASSETS } = await import('./embedded.js');
  return EMBEDDED_ASSETS ?? fromSources();
}

async function fromSources(): Promise<DashboardAssets> {
  // src/functions/dashboard/ from sources, dist/src/functions/dashboard/ compiled: the project root is above either.
  const { existsSync } = await import('node:fs');
  for (let up = 3; up <= 4; up++) {
    const script = new URL(`${'../'.repeat(up)}scripts/dashboard.mjs`, import.meta.url);
    if (!existsSync(script)) continue;
    const builder = (await import(script.href)) as { buildDashboardAssets: () => Promise<DashboardAssets> };
    return builder.buildDashboardAssets();
  }
  throw new Error('the dashboard assets are neither compiled in (npm run build) nor buildable from sources (scripts/dashboard.mjs not found)');
}
