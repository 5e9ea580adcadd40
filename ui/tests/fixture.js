// tests/fixture.js: every core event as toss-core serializes it, from fixtures/events.json.
// That file is written by a Rust test (crates/core/src/events.rs) that lists every variant
// of `Event`; when an event changes there, the file changes with it and these tests see it.

import { readFileSync } from "node:fs";

const everything = JSON.parse(readFileSync(new URL("./fixtures/events.json", import.meta.url), "utf8"));

/** Every event in the fixture, in its order, but those about one receiver of a group code. */
export const events = everything.filter((e) => typeof e.receiver !== "number");

/** The fixture's events about one receiver of a group code (`{"receiver":2,...}`), in order. */
export const tagged = everything.filter((e) => typeof e.receiver === "number").map((e) => structuredClone(e));

/** The first fixture event named `name` that `match` accepts (a fresh copy); throws when none. */
export function pick(name, match = () => true) {
  const found = events.find((e) => e.event === name && match(e));
  if (!found) throw new Error(`the fixture has no "${name}" event like that`);
  return structuredClone(found);
}

/** Every fixture event named `name`, fresh copies. */
export function all(name) {
  return events.filter((e) => e.event === name).map((e) => structuredClone(e));
}
