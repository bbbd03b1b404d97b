/** @module s3/handlers/multipart.test — parsing the CompleteMultipartUpload body. */
import { describe, expect, it } from 'vitest'
import { parseCompleteBody } from './multipart.js'
import { s3ErrorCode as code } from '../../../test/helpers/streams.js'

describe('parseCompleteBody', () => {
  it('keeps the client\'s order and ETags, with or without the namespace and checksum elements', async () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<Part><ETag>"aa"</ETag><PartNumber>2</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>' +
      '<Part><PartNumber> 1 </PartNumber><ETag>bb</ETag></Part></CompleteMultipartUpload>'
    expect(await parseCompleteBody(xml)).toEqual([
      { partNumber: 2, etag: '"aa"' },
      { partNumber: 1, etag: 'bb' },
    ])
  })

  it('is MalformedXML for bad XML, another root, no parts, or a part without number or ETag', async () => {
    for (const xml of [
      '<CompleteMultipartUpload><Part>',
      '<Delete><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Delete>',
      '<CompleteMultipartUpload></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>',
    ]) {
      expect(await code(parseCompleteBody(xml)), xml).toBe('MalformedXML')
    }
  })
})
