import { describe, expect, it } from 'vitest'
import { IntegrityError, LengthMismatchError, MissingEnvelopeError, UnknownKeyError } from './errors.js'

describe('errors', () => {
  it('are named Errors with stable fields', () => {
    const integrity = new IntegrityError('segment', 'tag')
    expect(integrity).toBeInstanceOf(Error)
    expect(integrity.name).toBe('IntegrityError')
    expect(integrity.check).toBe('segment')
    expect(integrity.message).toBe('s3veil integrity check failed (segment): tag')
    expect(new MissingEnvelopeError().name).toBe('MissingEnvelopeError')
    const unknown = new UnknownKeyError('old-key')
    expect(unknown.message).toBe('unknown master key id "old-key"')
    expect(unknown.kekId).toBe('old-key')
    expect(new UnknownKeyError('x'.repeat(500)).message.length).toBeLessThan(100)
    const length = new LengthMismatchError(10, 3)
    expect(length.message).toMatch(/shorter/)
    expect(new LengthMismatchError(10, 11).message).toMatch(/longer/)
  })
})
