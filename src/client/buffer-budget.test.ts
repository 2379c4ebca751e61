import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferBudget } from './buffer-budget.js';

test('the budget gives what fits and takes back what was given', () => {
  const budget = new BufferBudget(100);
  assert.equal(budget.tryTake(60), true);
  assert.equal(budget.tryTake(50), false, 'over the bound: refused and nothing taken');
  assert.equal(budget.usedBytes, 60);
  assert.equal(budget.tryTake(40), true);
  budget.give(100);
  assert.equal(budget.usedBytes, 0);
  assert.throws(() => budget.give(1), /giving back 1 of 0/);
});
