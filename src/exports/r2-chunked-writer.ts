/** R2's minimum part size; every part but the last must have the same size. */
export const PART_SIZE = 5 * 1024 * 1024;

/**
 * Writes an object to R2 as it is produced: bytes collect in one part-sized buffer and each full
 * buffer is uploaded as a multipart part, so memory stays at one part whatever the file size.
 * A file smaller than a part is stored with a single put.
 */
export class R2ChunkedWriter {
  private readonly buffer: Uint8Array;
  private filled = 0;
  private upload: R2MultipartUpload | null = null;
  private readonly parts: R2UploadedPart[] = [];
  size = 0;

  constructor(
    private readonly bucket: R2Bucket,
    readonly key: string,
    private readonly httpMetadata: R2HTTPMetadata,
    private readonly partSize = PART_SIZE,
  ) {
    this.buffer = new Uint8Array(partSize);
  }

  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(this.partSize - this.filled, chunk.length - offset);
      this.buffer.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.partSize) await this.uploadPart();
    }
    this.size += chunk.length;
  }

  private async uploadPart() {
    this.upload ??= await this.bucket.createMultipartUpload(this.key, { httpMetadata: this.httpMetadata });
    this.parts.push(await this.upload.uploadPart(this.parts.length + 1, this.buffer.subarray(0, this.filled)));
    this.filled = 0;
  }

  async close(): Promise<void> {
    if (!this.upload) {
      await this.bucket.put(this.key, this.buffer.subarray(0, this.filled), { httpMetadata: this.httpMetadata });
      return;
    }
    if (this.filled) await this.uploadPart();
    await this.upload.complete(this.parts);
  }

  async abort(): Promise<void> {
    await this.upload?.abort();
  }
}
