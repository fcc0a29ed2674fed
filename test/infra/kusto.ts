// Microsoft's own KQL parser and binder (npm @kusto/language-service-next, the engine behind the Azure portal's
// Logs editor), loaded for tests: a query that does not parse, names an unknown table, column or function, or
// misuses a keyword fails here instead of when Azure Monitor first evaluates the alert rule.
//
// The package is a Bridge.NET translation of Kusto.Language: `bridge.js` defines the .NET runtime as globals, then
// `Kusto.Language.Bridge.js` adds `globalThis.Kusto`. Both are plain scripts, so they are required, not imported.
import { createRequire } from 'node:module';
import { APP_INSIGHTS_WORKSPACE_TABLES } from './appInsightsTables.js';

const require = createRequire(import.meta.url);
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

// The Bridge.NET API is the C# one with overloads renamed ($ctor7 = TableSymbol(name, schema, description)).
// Typing it through its .d.ts would pull the whole .NET surface into tsc; the handful of calls used here are typed by hand.
interface BridgeList<T> {
  Count: number;
  getItem(index: number): T;
}
interface KustoDiagnostic {
  Severity: string;
  Code: string;
  Message: string;
  Start: number;
  Length: number;
}
interface KustoCode {
  GetDiagnostics(): BridgeList<KustoDiagnostic>;
}
interface KustoLanguage {
  GlobalState: { Default: { WithDatabase(db: unknown): unknown } };
  KustoCode: { ParseAndAnalyze(text: string, globals: unknown): KustoCode };
  Symbols: {
    TableSymbol: { $ctor7: new (name: string, schema: string, description: string) => unknown };
    DatabaseSymbol: { ctor: new (name: string, members: unknown[]) => unknown };
  };
}
const Kusto = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;

export interface KqlProblem {
  code: string;
  message: string;
  /** The query text the problem points at, for the reader of a failing test. */
  at: string;
}

/** A Log Analytics workspace that holds the workspace-based Application Insights tables (AppEvents, AppMetrics, ...). */
export function workspaceGlobals(): unknown {
  const tables = Object.entries(APP_INSIGHTS_WORKSPACE_TABLES).map(
    ([name, columns]) => new Kusto.Symbols.TableSymbol.$ctor7(name, `(${Object.entries(columns).map(([c, t]) => `${c}:${t}`).join(', ')})`, ''),
  );
  return Kusto.GlobalState.Default.WithDatabase(new Kusto.Symbols.DatabaseSymbol.ctor('workspace', tables));
}

/** Parses and binds `query`; every diagnostic of severity error (syntax and semantics). */
export function kqlErrors(query: string, globals: unknown = workspaceGlobals()): KqlProblem[] {
  const diagnostics = Kusto.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const problems: KqlProblem[] = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (d.Severity !== 'Error') continue;
    problems.push({ code: d.Code, message: d.Message, at: query.slice(Math.max(0, d.Start - 20), d.Start + Math.max(d.Length, 1) + 20) });
  }
  return problems;
}
