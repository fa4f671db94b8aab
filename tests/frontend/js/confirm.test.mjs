// Unit tests of frontend/static/hub/confirm.js (node --test), with fake
// forms. Run by tests/frontend/test_hub_client_js.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { guardSubmit } from "../../../frontend/static/hub/confirm.js";

function fakeForm(question) {
  const buttons = [{ disabled: false }];
  return {
    dataset: {},
    buttons,
    getAttribute: (name) => (name === "data-confirm" ? question : null),
    querySelectorAll: () => buttons,
  };
}

function submit(form) {
  const event = { target: form, prevented: false, preventDefault() { this.prevented = true; } };
  return event;
}

test("a refused confirmation sends nothing", () => {
  const form = fakeForm("Retirer ?");
  const event = submit(form);
  const asked = [];
  guardSubmit(event, { ask: (q) => (asked.push(q), false), later: (fn) => fn() });
  assert.deepEqual(asked, ["Retirer ?"]);
  assert.equal(event.prevented, true);
  assert.equal(form.buttons[0].disabled, false);
});

test("an accepted confirmation sends once, then the buttons are disabled", () => {
  const form = fakeForm("Relancer ?");
  const first = submit(form);
  const tasks = [];
  guardSubmit(first, { ask: () => true, later: (fn) => tasks.push(fn) });
  assert.equal(first.prevented, false);
  assert.equal(form.buttons[0].disabled, false); // still sent with the form
  tasks.forEach((fn) => fn());
  assert.equal(form.buttons[0].disabled, true);
  const second = submit(form);
  guardSubmit(second, { ask: () => true, later: (fn) => fn() });
  assert.equal(second.prevented, true);
});

test("forms without data-confirm are left alone", () => {
  const form = fakeForm(null);
  const event = submit(form);
  guardSubmit(event, { ask: () => assert.fail("asked"), later: () => assert.fail("later") });
  assert.equal(event.prevented, false);
});
