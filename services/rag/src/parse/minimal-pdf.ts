import { deflateSync } from "node:zlib";

/**
 * Writes a small valid PDF (1.4, Helvetica at `fontSize`, default 12, one text line per string; its
 * content streams uncompressed, or deflated with `compress`) with one page per entry of `pages`. For
 * tests: it builds fixtures in place of binary files. pdf.js drops text outside the page: at 12
 * points a line holds about 90 characters, a page about 50 lines.
 */
export function minimalPdf(
  pages: string[][],
  opts: { compress?: boolean; fontSize?: number } = {},
): Uint8Array {
  const size = opts.fontSize ?? 12;
  const objects: string[] = [];
  const pageIds = pages.map((_, i) => 4 + 2 * i);
  objects[1] = "<< /Type /Catalog /Pages 2 0 R >>";
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(" ")}] /Count ${pages.length} >>`;
  objects[3] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";
  pages.forEach((lines, i) => {
    const stream = [
      `BT /F1 ${size} Tf ${(size * 7) / 6} TL 72 720 Td`,
      ...lines.map((l) => `(${l.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj T*`),
      "ET",
    ].join("\n");
    objects[4 + 2 * i] =
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`;
    const data = opts.compress ? deflateSync(stream).toString("latin1") : stream;
    const filter = opts.compress ? " /Filter /FlateDecode" : "";
    objects[5 + 2 * i] = `<< /Length ${data.length}${filter} >>\nstream\n${data}\nendstream`;
  });
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = out.length;
    out += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = out.length;
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) out += `${String(offsets[id]).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  // One byte per character, so the offsets above are byte offsets.
  return new Uint8Array(Buffer.from(out, "latin1"));
}
