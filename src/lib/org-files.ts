/**
 * Every file an organisation stores in R2 lives under `orgs/{org}/` (knowledge-base originals,
 * stored audio), so leaving the platform can remove all of them by one prefix.
 */
export function orgFilesPrefix(orgId: string): string {
  return `orgs/${orgId}/`;
}

/** Deletes every object under the organisation's prefix, a listed page (up to 1,000) at a time. */
export async function deleteOrgFiles(bucket: R2Bucket, orgId: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    // Always the first page: what was listed is gone, so the next list starts after it.
    const page = await bucket.list({ prefix: orgFilesPrefix(orgId), limit: 1000 });
    if (page.objects.length === 0) return deleted;
    await bucket.delete(page.objects.map((object) => object.key));
    deleted += page.objects.length;
    if (!page.truncated) return deleted;
  }
}
