import { describe, expect, it } from 'vitest';
import { PasswordPolicy } from '../../../signaling/store/PasswordPolicy.ts';

describe('PasswordPolicy', () => {
  const policy = new PasswordPolicy();

  it('refuses common, trivial and username-like passwords with a reason', () => {
    expect(policy.problem('password', 'alice')).toMatch(/too weak: this is one of the ten most used passwords/);
    expect(policy.problem('12345678', 'alice')).toMatch(/ten most used/);
    expect(policy.problem('        ', 'alice')).toMatch(/only spaces/);
    expect(policy.problem('qwertyuiop', 'alice')).toMatch(/too weak/);
    expect(policy.problem('letmein123', 'alice')).toMatch(/similar to a commonly used password/);
    expect(policy.problem('Alice2024!', 'alice')).toMatch(/mostly your username/);
    expect(policy.problem('alicealice', 'Alice')).toMatch(/mostly your username/);
    // Only the first 64 characters are estimated; a long run of one word is still weak.
    expect(policy.problem('password'.repeat(32), 'alice')).toMatch(/too weak/);
    expect(() => policy.assertAcceptable('password', 'alice')).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  it('accepts the passwords the tests, helpers and benchmarks sign up with', () => {
    for (const p of ['correct horse battery', 'long enough pw', 'long enough password', 'a good long password', 'bench password, not secret', 'Tr0ub4dor&3 horse']) {
      expect(policy.problem(p, 'olivia'), p).toBeUndefined();
    }
  });
});
