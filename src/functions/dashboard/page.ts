// The dashboard's HTML shell and the headers every dashboard response carries. The shell holds no data and no
// script of its own: the page's script (dashboard.js, served beside it) fetches everything from the API with the
// caller's own function key, so the page shows exactly what the API answers and can do nothing the API refuses.

/**
 * Everything the page loads comes from the function app itself: its script, its style sheet and its icon from
 * `/api/dashboard/…`, its data from `/api/…`. Nothing inline (no inline script, style or event attribute), no other
 * origin, no framing, no form posts, no <base> rewriting.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The assets under `/api/dashboard/<name>` and what they are. */
export const DASHBOARD_ASSET_TYPES: Readonly<Record<string, string>> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

export function dashboardHeaders(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': DASHBOARD_CSP,
    // The page's URL carries the function key (?code=): it must not travel in a Referer, nor sit in a shared cache.
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}

export interface PageInput {
  /** The page's own path, e.g. `/api/dashboard`; its assets are below it. */
  pagePath: string;
  /** The API's base path, e.g. `/api`. */
  apiPath: string;
  /** The `code` query parameter the page was opened with (the caller's own key), repeated on its asset URLs. */
  code?: string;
  renewBeforeDays: number;
}

/** The HTML shell. Every interpolated value is escaped for the attribute it lands in. */
export function dashboardPage(input: PageInput): string {
  const asset = (name: string): string => {
    const url = `${input.pagePath}/${name}${input.code ? `?code=${encodeURIComponent(input.code)}` : ''}`;
    return escapeAttribute(url);
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>mtls-rotator dashboard</title>
<link rel="icon" href="${asset('icon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${asset('dashboard.css')}">
<script type="module" src="${asset('dashboard.js')}"></script>
</head>
<body data-api="${escapeAttribute(input.apiPath)}" data-renew-before-days="${escapeAttribute(String(input.renewBeforeDays))}">
<a class="skip" href="#certificates">Skip to the certificates</a>
<header class="top">
<h1>mtls-rotator</h1>
<p id="last-scan" class="muted">Loading…</p>
<div class="top-actions">
<button type="button" id="refresh">Refresh</button>
<button type="button" id="theme" aria-pressed="false">Dark theme</button>
</div>
</header>
<main id="main">
<noscript><p>This page needs JavaScript; the same data is at ${escapeText(input.apiPath)}/certificates and ${escapeText(input.apiPath)}/rotations.</p></noscript>
</main>
</body>
</html>
`;
}

export function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
