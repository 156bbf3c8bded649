/**
 * The little XML S3 answers in: an error's fields and a ListObjectsV2 page. Regular
 * expressions over a known, flat shape; no XML library.
 *
 * @packageDocumentation
 */

/** One object of a listing. */
export interface S3Object {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** One ListObjectsV2 result page. */
export interface ListingPage {
  prefixes: string[];
  objects: S3Object[];
  truncated: boolean;
  nextToken: string | undefined;
}

/** What the server said in `<Name>…</Name>`, first occurrence. */
export function xmlText(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match ? decodeXml(match[1] ?? '') : undefined;
}

/** Whether an answer is a listing at all (a proxy's or a website's page is not). */
export function isListing(xml: string): boolean {
  return /<ListBucketResult[\s>]/.test(xml);
}

/** A ListObjectsV2 result page (`<ListBucketResult>`). */
export function parseListing(xml: string): ListingPage {
  const objects: S3Object[] = [];
  for (const [, contents = ''] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = xmlText(contents, 'Key');
    if (key === undefined) continue;
    objects.push({
      key,
      size: Number(xmlText(contents, 'Size') ?? 0),
      lastModified: new Date(xmlText(contents, 'LastModified') ?? 0),
    });
  }
  const prefixes: string[] = [];
  for (const [, common = ''] of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) {
    const prefix = xmlText(common, 'Prefix');
    if (prefix !== undefined) prefixes.push(prefix);
  }
  return {
    prefixes,
    objects,
    truncated: xmlText(xml, 'IsTruncated') === 'true',
    nextToken: xmlText(xml, 'NextContinuationToken'),
  };
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|quot|apos|amp);/gi, (_match, entity: string) => {
    if (entity[0] === '#') {
      const hex = entity[1] === 'x' || entity[1] === 'X';
      return String.fromCodePoint(Number.parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10));
    }
    return { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }[entity.toLowerCase()] ?? '';
  });
}
