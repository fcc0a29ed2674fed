// The dashboard's assets when they are compiled in. From sources this is undefined; scripts/bundle.mjs replaces this
// module's contents with the built assets, in a chunk of its own that only a dashboard request loads.
export const EMBEDDED_ASSETS: Readonly<Record<string, string>> | undefined = undefined;
