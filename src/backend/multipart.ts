/**
 * @module backend/multipart
 * S3's multipart-upload rules, shared by every backend that keeps its own uploads (the disk store)
 * and by the encrypting decorator (which checks a client's part list against its own view of the
 * parts before anything reaches the upstream). Pure: no I/O, no Node APIs.
 *
 * CompleteMultipartUpload, as S3 checks it, in this order:
 * 1. at least one part (MalformedXML otherwise);
 * 2. part numbers strictly ascending (InvalidPartOrder; a repeated number is out of order too);
 * 3. every listed part was uploaded with exactly that ETag (InvalidPart);
 * 4. every part but the last is at least 5 MiB (EntityTooSmall, naming the part). A single small
 *    part, or a small last part, is fine.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
 */
import { normalizeEtag } from '../s3/conditions.js'
import { S3Error, type S3ErrorFields } from '../s3/errors.js'
import { compareKeys } from './listing.js'
import type {
  ByteRange,
  CompletedPart,
  ListMultipartUploadsInput,
  ListMultipartUploadsOutput,
  MultipartUploadInfo,
} from './types.js'

/** Smallest size of every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024
/** Largest part S3 accepts (5 GiB). */
export const MAX_PART_SIZE = 5 * 1024 ** 3
export const MAX_PART_NUMBER = 10000
/** Most parts (ListParts) or uploads (ListMultipartUploads) S3 returns in one page. */
export const MAX_LIST_PAGE = 1000

export function isValidPartNumber(partNumber: number): boolean {
  return Number.isInteger(partNumber) && partNumber >= 1 && partNumber <= MAX_PART_NUMBER
}

/** The error S3 gives for an upload id it does not know (or that belongs to another key). */
export function noSuchUpload(uploadId: string): S3Error {
  return new S3Error('NoSuchUpload', undefined, { fields: { UploadId: uploadId } })
}

/** S3's answer to a GetObject/HeadObject `partNumber` past the object's last part: 416, like a range. */
export function invalidPartNumber(requested: number, actual?: number): S3Error {
  const fields: S3ErrorFields = { PartNumberRequested: requested }
  if (actual !== undefined) fields.ActualPartCount = actual
  return new S3Error('InvalidPartNumber', undefined, { fields })
}

/**
 * Where part `partNumber` of a completed object lies, for GetObject/HeadObject `?partNumber=`. Parts
 * count by position in the completed object (1 .. parts count), whatever numbers they were uploaded
 * under: clients read parts 1 .. x-amz-mp-parts-count, so gaps in the upload's numbering must not
 * leave holes. `partSizes` is absent for an object that was not uploaded in parts: its one part is
 * the whole object, and S3 sends no parts count for it. An empty part is `{ start, end: start - 1 }`.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (partNumber, x-amz-mp-parts-count)
 */
export function partRange(
  partNumber: number,
  size: number,
  partSizes?: readonly number[]
): { range: ByteRange; partsCount?: number } {
  const sizes = partSizes ?? [size]
  if (partNumber > sizes.length) throw invalidPartNumber(partNumber, sizes.length)
  let start = 0
  for (let i = 0; i < partNumber - 1; i++) start += sizes[i]!
  const range = { start, end: start + sizes[partNumber - 1]! - 1 }
  return partSizes ? { range, partsCount: partSizes.length } : { range }
}

function invalidPart(uploadId: string, part: CompletedPart): S3Error {
  return new S3Error(
    'InvalidPart',
    'One or more of the specified parts could not be found. The part may not have been uploaded, ' +
      "or the specified entity tag may not match the part's entity tag.",
    { fields: { UploadId: uploadId, PartNumber: part.partNumber, ETag: normalizeEtag(part.etag) } }
  )
}

/**
 * Checks a client's CompleteMultipartUpload list (steps 1–4 of the module comment) and returns the
 * uploaded part each entry names, in order. `find` looks up an uploaded part by number and bare
 * (unquoted) ETag; `size` is what the 5 MiB rule applies to (plaintext size, for the decorator).
 */
export function resolveCompletedParts<T extends { size: number }>(
  uploadId: string,
  requested: readonly CompletedPart[],
  find: (partNumber: number, bareEtag: string) => T | undefined
): T[] {
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.')
  let previous = 0
  for (const part of requested) {
    if (!isValidPartNumber(part.partNumber)) throw invalidPart(uploadId, part)
    if (part.partNumber <= previous) throw new S3Error('InvalidPartOrder', undefined, { fields: { UploadId: uploadId } })
    previous = part.partNumber
  }
  const found = requested.map((part) => {
    const uploaded = find(part.partNumber, normalizeEtag(part.etag))
    if (!uploaded) throw invalidPart(uploadId, part)
    return uploaded
  })
  found.forEach((uploaded, i) => {
    if (i === found.length - 1 || uploaded.size >= MIN_PART_SIZE) return
    const part = requested[i]!
    throw new S3Error('EntityTooSmall', undefined, {
      fields: {
        ProposedSize: uploaded.size,
        MinSizeAllowed: MIN_PART_SIZE,
        PartNumber: part.partNumber,
        ETag: normalizeEtag(part.etag),
      },
    })
  })
  return found
}

/** One ListParts page over parts sorted by number: those after `marker`, at most `maxParts`. */
export function pageParts<T extends { partNumber: number }>(
  sorted: readonly T[],
  maxParts: number,
  marker = 0
): { parts: T[]; isTruncated: boolean; nextPartNumberMarker?: number } {
  const after = sorted.filter((part) => part.partNumber > marker)
  const limit = Math.max(0, Math.min(maxParts, MAX_LIST_PAGE))
  const parts = after.slice(0, limit)
  const isTruncated = after.length > parts.length
  return isTruncated && parts.length > 0
    ? { parts, isTruncated, nextPartNumberMarker: parts[parts.length - 1]!.partNumber }
    : { parts, isTruncated }
}

/** Orders uploads as S3 lists them: by key (UTF-8 byte order), then by upload id. */
export function compareUploads(a: MultipartUploadInfo, b: MultipartUploadInfo): number {
  const byKey = compareKeys(a.key, b.key)
  if (byKey !== 0) return byKey
  return a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0
}

/**
 * One ListMultipartUploads page over uploads sorted by `compareUploads`. Resumes after
 * (keyMarker, uploadIdMarker): uploads of keyMarker's key with a greater upload id, then later keys;
 * without uploadIdMarker, strictly after keyMarker. With a delimiter, keys containing it after the
 * prefix roll up into common prefixes, each returned once and counting once toward maxUploads.
 */
export function pageUploads(
  sorted: readonly MultipartUploadInfo[],
  input: Omit<ListMultipartUploadsInput, 'bucket'>
): ListMultipartUploadsOutput {
  const out: ListMultipartUploadsOutput = { uploads: [], commonPrefixes: [], isTruncated: false }
  const limit = Math.max(0, Math.min(input.maxUploads, MAX_LIST_PAGE))
  const prefix = input.prefix ?? ''
  const delimiter = input.delimiter || undefined
  const keyMarker = input.keyMarker || undefined
  const uploadIdMarker = keyMarker === undefined ? undefined : input.uploadIdMarker || undefined
  let count = 0
  let last: { key: string; uploadId?: string } | undefined
  for (const upload of sorted) {
    if (!upload.key.startsWith(prefix)) continue
    if (keyMarker !== undefined) {
      const c = compareKeys(upload.key, keyMarker)
      if (c < 0) continue
      if (c === 0 && (uploadIdMarker === undefined || upload.uploadId <= uploadIdMarker)) continue
    }
    let common: string | undefined
    if (delimiter !== undefined) {
      const at = upload.key.indexOf(delimiter, prefix.length)
      if (at >= 0) common = upload.key.slice(0, at + delimiter.length)
    }
    if (common !== undefined) {
      if (out.commonPrefixes[out.commonPrefixes.length - 1] === common) continue
      // A common prefix at or before the marker was returned on an earlier page.
      if (keyMarker !== undefined && compareKeys(common, keyMarker) <= 0) continue
    }
    if (count === limit) {
      out.isTruncated = true
      if (last) {
        out.nextKeyMarker = last.key
        if (last.uploadId !== undefined) out.nextUploadIdMarker = last.uploadId
      }
      return out
    }
    if (common !== undefined) {
      out.commonPrefixes.push(common)
      last = { key: common }
    } else {
      out.uploads.push(upload)
      last = { key: upload.key, uploadId: upload.uploadId }
    }
    count++
  }
  return out
}
