// s3rver accepts any AWS Signature V4 without checking it, so a wrong secret would go
// unnoticed. This Koa middleware verifies header-signed V4 requests the way S3 does and
// answers 403 SignatureDoesNotMatch otherwise.
import { createHash, createHmac } from 'node:crypto';

interface KoaContext {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

// RFC 3986 encoding, as SigV4 wants for query strings.
const encode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function sigV4Verifier(secrets: ReadonlyMap<string, string>) {
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    const authorization = ctx.headers.authorization;
    if (typeof authorization !== 'string' || !authorization.startsWith('AWS4-HMAC-SHA256 ')) return next();
    const fields = Object.fromEntries(
      authorization
        .slice('AWS4-HMAC-SHA256 '.length)
        .split(/,\s*/)
        .map((part) => part.split('=') as [string, string]),
    );
    const [accessKeyId, ...scopeParts] = (fields.Credential ?? '').split('/');
    const secret = secrets.get(accessKeyId ?? '');
    // Unknown keys are s3rver's to reject (InvalidAccessKeyId).
    if (secret === undefined) return next();

    const [rawPath, rawQuery = ''] = ctx.url.split('?') as [string, string?];
    const query = rawQuery
      .split('&')
      .filter(Boolean)
      .map((pair) => {
        const [key = '', value = ''] = pair.split('=');
        return [
          encode(decodeURIComponent(key.replace(/\+/g, ' '))),
          encode(decodeURIComponent(value.replace(/\+/g, ' '))),
        ];
      })
      .sort(([a = '', av = ''], [b = '', bv = '']) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
      .map(([key, value]) => `${key}=${value}`)
      .join('&');
    const signedHeaders = (fields.SignedHeaders ?? '').split(';');
    const canonicalHeaders = signedHeaders
      .map(
        (name) =>
          `${name}:${String(ctx.headers[name] ?? '')
            .trim()
            .replace(/\s+/g, ' ')}\n`,
      )
      .join('');
    const payloadHash = String(ctx.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
    const canonicalRequest = [ctx.method, rawPath, query, canonicalHeaders, signedHeaders.join(';'), payloadHash].join(
      '\n',
    );
    const scope = scopeParts.join('/');
    const stringToSign = ['AWS4-HMAC-SHA256', String(ctx.headers['x-amz-date']), scope, sha256(canonicalRequest)].join(
      '\n',
    );
    const [date = '', region = '', service = ''] = scopeParts;
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
    if (expected === fields.Signature) return next();
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message></Error>';
  };
}
