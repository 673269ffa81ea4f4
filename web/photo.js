// Photos are downscaled on the phone before they are stored: at most 1600 px on the long
// side, re-encoded as JPEG at quality 0.8 (a 12 MP camera photo becomes ~300 KB).

export const MAX_SIDE = 1600;
export const QUALITY = 0.8;

async function decode(file) {
  if ('createImageBitmap' in window) {
    try {
      return await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) { /* fall back to <img> below (older Safari) */ }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.decoding = 'async';
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Decodes an image file and re-encodes it downscaled: `{blob, bytes, mime, width, height}`. */
export async function downscale(file, maxSide = MAX_SIDE, quality = QUALITY) {
  const src = await decode(file);
  const w0 = src.width || src.naturalWidth;
  const h0 = src.height || src.naturalHeight;
  if (!w0 || !h0) throw new Error('empty image');
  const scale = Math.min(1, maxSide / Math.max(w0, h0));
  const width = Math.max(1, Math.round(w0 * scale));
  const height = Math.max(1, Math.round(h0 * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; // JPEG has no transparency
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(src, 0, 0, width, height);
  if (typeof src.close === 'function') src.close();
  const blob = await new Promise((resolve, reject) => {
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('encoding failed'))), 'image/jpeg', quality);
  });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  return { blob, bytes, mime: 'image/jpeg', width, height };
}
