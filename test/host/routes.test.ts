import { describe, expect, it } from 'vitest';
import { compareRoutes, compileRoute, matchRoute, RouteTemplateError } from '../../src/host/routes.js';

const split = (p: string): string[] => p.split('/').filter((s) => s !== '');

describe('matchRoute', () => {
  it.each([
    ['a literal route matches itself', 'rotations', 'rotations', {}],
    ['literals match case-insensitively', 'rotations', 'Rotations', {}],
    ['a parameter captures one segment', 'rotations/{id}', 'rotations/r-1', { id: 'r-1' }],
    ['a parameter is percent-decoded', 'apps/{name}', 'apps/web%20a', { name: 'web a' }],
    ['a literal after a parameter must match', 'rotations/{id}/rollback', 'rotations/r-1/rollback', { id: 'r-1' }],
    ['an optional parameter may be absent', 'rotations/{id?}', 'rotations', {}],
    ['an optional parameter may be present', 'rotations/{id?}', 'rotations/r-2', { id: 'r-2' }],
    ['an int constraint accepts digits', 'items/{n:int}', 'items/42', { n: '42' }],
    ['a catch-all takes the rest of the path', 'files/{*rest}', 'files/a/b/c', { rest: 'a/b/c' }],
    ['a catch-all may be empty', 'files/{*rest}', 'files', { rest: '' }],
    ['leading and trailing slashes in the template do not matter', '/rotations/{id}/', 'rotations/x', { id: 'x' }],
  ])('%s', (_sentence, template, path, params) => {
    expect(matchRoute(compileRoute(template), split(path))).toEqual(params);
  });

  it.each([
    ['a different literal', 'rotations', 'certificates'],
    ['a missing required parameter', 'rotations/{id}', 'rotations'],
    ['an extra segment', 'rotations/{id}', 'rotations/r-1/extra'],
    ['a wrong trailing literal', 'rotations/{id}/rollback', 'rotations/r-1/commit'],
    ['a value failing its int constraint', 'items/{n:int}', 'items/abc'],
    ['a value failing its guid constraint', 'subs/{s:guid}', 'subs/123'],
  ])('does not match %s', (_sentence, template, path) => {
    expect(matchRoute(compileRoute(template), split(path))).toBeUndefined();
  });
});

describe('compileRoute rejects', () => {
  it.each([
    ['a catch-all that is not last', 'files/{*rest}/x', /catch-all \{\*rest\} must be the last segment/],
    ['an optional parameter that is not last', 'a/{id?}/b', /optional \{id\?\} must be the last segment/],
    ['an unknown constraint', 'a/{id:regex}', /constraint 'regex' is not supported/],
    ['a half-open brace', 'a/{id', /segment '\{id' is not a literal or a \{parameter\}/],
    ['a duplicate parameter', '{a}/{A}', /uses parameter 'a' twice/],
    ['an empty segment', 'a//b', /has an empty segment/],
  ])('%s', (_sentence, template, message) => {
    expect(() => compileRoute(template)).toThrow(RouteTemplateError);
    expect(() => compileRoute(template)).toThrow(message);
  });
});

describe('compareRoutes', () => {
  it('orders literals before parameters before catch-alls', () => {
    const templates = ['rotations/{*rest}', 'rotations/{id}', 'rotations/latest', 'rotations/{id:int}'];
    const sorted = templates.map(compileRoute).sort(compareRoutes).map((r) => r.template);
    expect(sorted).toEqual(['rotations/latest', 'rotations/{id:int}', 'rotations/{id}', 'rotations/{*rest}']);
  });
});
