import { describe, expect, it } from 'vitest'
import { collect, chunked, expectIntegrity, platform } from '../../test/fixtures/crypto/helpers.js'
import {
  META_NAMES,
  RESERVED_META_PREFIX,
  createEnvelope,
  decodeEnvelope,
  isReservedMetaName,
  openEnvelope,
  rewrapEnvelope,
  stripReserved,
} from './envelope.js'
import { MissingEnvelopeError, UnknownKeyError } from './errors.js'
import { createKeyring } from './keyring.js'
import { decryptObject, encryptObject } from './stream.js'
import { storedSize } from './format.js'

const k1 = { id: 'k1', material: new Uint8Array(32).fill(1) }
const k2 = { id: 'k2', material: new Uint8Array(32).fill(2) }
const ring1 = await createKeyring(platform, { current: 'k1', keys: [k1] })
const ring12 = await createKeyring(platform, { current: 'k2', keys: [k1, k2] })
const here = { bucket: 'b1', key: 'docs/report.pdf' }

describe('metadata names', () => {
  it('reserves the s3veil- prefix', () => {
    expect(RESERVED_META_PREFIX).toBe('s3veil-')
    expect(isReservedMetaName('s3veil-dek')).toBe(true)
    expect(isReservedMetaName('S3Veil-anything')).toBe(true)
    expect(isReservedMetaName('s3veil')).toBe(false)
    expect(isReservedMetaName('color')).toBe(false)
    expect(stripReserved({ color: 'red', 's3veil-v': '1', 's3veil-x': 'y', owner: 'me' })).toEqual({ color: 'red', owner: 'me' })
  })
})

describe('envelopes', () => {
  it('create → metadata → open gives the same key and object id', async () => {
    const created = await createEnvelope(platform, ring1, here)
    expect(Object.keys(created.metadata).sort()).toEqual(['s3veil-dek', 's3veil-kek', 's3veil-mp', 's3veil-oid', 's3veil-v'])
    expect(created.metadata).toMatchObject({ 's3veil-v': '1', 's3veil-kek': 'k1', 's3veil-mp': '0' })
    expect(created.metadata['s3veil-oid']).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(created.metadata['s3veil-dek']).toMatch(/^[A-Za-z0-9_-]{80}$/)
    const size = Object.entries(created.metadata).reduce((a, [k, v]) => a + k.length + v.length, 0)
    expect(size).toBeLessThan(300)

    const opened = await openEnvelope(platform, ring1, { ...created.metadata, color: 'red' }, here)
    expect(opened.kekId).toBe('k1')
    expect(opened.multipart).toBe(false)
    expect(opened.objectId).toEqual(created.objectId)
    // Same data key: what one encrypts, the other decrypts.
    const plain = new Uint8Array(1000).fill(9)
    const stored = await collect(encryptObject(platform, created, plain.byteLength, chunked(plain)))
    const back = await collect(decryptObject(platform, opened, plain.byteLength, storedSize(plain.byteLength), chunked(stored)))
    expect(back).toEqual(plain)
  })

  it('multipart flag is recorded and bound', async () => {
    const created = await createEnvelope(platform, ring1, here, { multipart: true })
    expect(created.metadata['s3veil-mp']).toBe('1')
    expect((await openEnvelope(platform, ring1, created.metadata, here)).multipart).toBe(true)
    await expectIntegrity(openEnvelope(platform, ring1, { ...created.metadata, 's3veil-mp': '0' }, here), 'unwrap')
  })

  it('moving an object (with its metadata) to another bucket or key makes it unreadable', async () => {
    const { metadata } = await createEnvelope(platform, ring1, here)
    await expectIntegrity(openEnvelope(platform, ring1, metadata, { ...here, bucket: 'b2' }), 'unwrap')
    await expectIntegrity(openEnvelope(platform, ring1, metadata, { ...here, key: 'docs/report.pdf2' }), 'unwrap')
  })

  it('swapping envelope fields between objects fails', async () => {
    const a = await createEnvelope(platform, ring1, here)
    const b = await createEnvelope(platform, ring1, here)
    await expectIntegrity(openEnvelope(platform, ring1, { ...a.metadata, 's3veil-oid': b.metadata['s3veil-oid']! }, here), 'unwrap')
    await expectIntegrity(openEnvelope(platform, ring1, { ...a.metadata, 's3veil-kek': 'k2' }, here).catch((e) => {
      // With k2 unknown to ring1 this is an UnknownKeyError; with ring12 it is an integrity failure.
      expect(e).toBeInstanceOf(UnknownKeyError)
      return openEnvelope(platform, ring12, { ...a.metadata, 's3veil-kek': 'k2' }, here)
    }), 'unwrap')
  })

  it('missing, partial and malformed envelopes', async () => {
    await expect(openEnvelope(platform, ring1, { color: 'red' }, here)).rejects.toBeInstanceOf(MissingEnvelopeError)
    await expect(openEnvelope(platform, ring1, {}, here)).rejects.toBeInstanceOf(MissingEnvelopeError)
    const { metadata } = await createEnvelope(platform, ring1, here)
    for (const name of Object.values(META_NAMES)) {
      const partial = { ...metadata }
      delete partial[name]
      await expectIntegrity(openEnvelope(platform, ring1, partial, here), 'envelope')
    }
    const bad: Record<string, string>[] = [
      { 's3veil-v': '2' },
      { 's3veil-v': '01' },
      { 's3veil-mp': 'true' },
      { 's3veil-oid': metadata['s3veil-oid']!.slice(1) },
      { 's3veil-oid': metadata['s3veil-oid']! + '=' },
      { 's3veil-dek': metadata['s3veil-dek']!.slice(4) },
      { 's3veil-kek': 'bad id' },
    ]
    for (const change of bad) await expectIntegrity(openEnvelope(platform, ring1, { ...metadata, ...change }, here), 'envelope')
    expect(() => decodeEnvelope({ 's3veil-v': '1' })).toThrow(/incomplete/)
  })

  it('unknown master key names only the id', async () => {
    const { metadata } = await createEnvelope(platform, ring12, here)
    const error = await openEnvelope(platform, ring1, metadata, here).catch((e) => e)
    expect(error).toBeInstanceOf(UnknownKeyError)
    expect(error.message).toBe('unknown master key id "k2"')
  })

  it('rewrap: same key and object id, new location, current master key', async () => {
    const created = await createEnvelope(platform, ring1, here)
    const there = { bucket: 'archive', key: 'x/y' }
    const moved = await rewrapEnvelope(platform, ring12, created.metadata, here, there)
    expect(moved['s3veil-kek']).toBe('k2')
    expect(moved['s3veil-oid']).toBe(created.metadata['s3veil-oid'])
    expect(moved['s3veil-dek']).not.toBe(created.metadata['s3veil-dek'])
    const opened = await openEnvelope(platform, ring12, moved, there)
    await expectIntegrity(openEnvelope(platform, ring12, moved, here), 'unwrap')
    // The stored body stays valid byte for byte under the re-wrapped envelope.
    const plain = new Uint8Array(70000).map((_, i) => i & 0xff)
    const stored = await collect(encryptObject(platform, created, plain.byteLength, chunked(plain)))
    expect(await collect(decryptObject(platform, opened, plain.byteLength, stored.byteLength, chunked(stored, [4096])))).toEqual(plain)
    // Key rotation in place: same binding both sides.
    const rotated = await rewrapEnvelope(platform, ring12, created.metadata, here, here)
    expect((await openEnvelope(platform, ring12, rotated, here)).kekId).toBe('k2')
    // Rewrapping from the wrong source binding fails.
    await expectIntegrity(rewrapEnvelope(platform, ring12, created.metadata, there, here), 'unwrap')
  })
})
