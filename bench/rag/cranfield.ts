import { readFile } from "node:fs/promises";
import path from "node:path";

/**
 * The Cranfield collection (1,400 aeronautics abstracts, 225 queries, graded judgments) in its
 * SMART-style files: records start with `.I <id>`, fields with `.T` (title), `.A` (authors),
 * `.B` (bibliography) and `.W` (text) alone on a line. A field that appears twice is appended to.
 */
export interface CranDoc {
  id: string;
  title: string;
  authors: string;
  bibliography: string;
  text: string;
}

export interface CranQuery {
  /** 1-based position in cran.qry: what cranqrel numbers queries by (not the `.I` value). */
  number: number;
  id: string;
  text: string;
}

/** Query number → document id → gain. */
export type Qrels = Map<number, Map<string, number>>;

export interface Cranfield {
  docs: CranDoc[];
  queries: CranQuery[];
  qrels: Qrels;
}

const FIELDS = { ".T": "title", ".A": "authors", ".B": "bibliography", ".W": "text" } as const;
type Field = (typeof FIELDS)[keyof typeof FIELDS];

/** Records of a SMART-style file: id and field → lines (pure). */
export function parseRecords(source: string): { id: string; fields: Map<Field, string> }[] {
  const records: { id: string; fields: Map<Field, string> }[] = [];
  let field: Field | undefined;
  for (const line of source.split(/\r?\n/)) {
    const start = /^\.I\s+(\S+)/.exec(line);
    if (start) {
      records.push({ id: start[1]!, fields: new Map() });
      field = undefined;
    } else if (line.trim() in FIELDS) {
      field = FIELDS[line.trim() as keyof typeof FIELDS];
    } else if (field) {
      const rec = records.at(-1)!;
      const prev = rec.fields.get(field);
      rec.fields.set(field, prev === undefined ? line : `${prev}\n${line}`);
    }
  }
  return records;
}

const clean = (s: string | undefined) => (s ?? "").trim();

export function parseDocs(source: string): CranDoc[] {
  return parseRecords(source).map((r) => ({
    id: r.id,
    title: clean(r.fields.get("title")).replace(/\s+/g, " "),
    authors: clean(r.fields.get("authors")),
    bibliography: clean(r.fields.get("bibliography")),
    text: clean(r.fields.get("text")),
  }));
}

export function parseQueries(source: string): CranQuery[] {
  return parseRecords(source).map((r, i) => ({
    number: i + 1,
    id: r.id,
    text: clean(r.fields.get("text")).replace(/\s+/g, " "),
  }));
}

/**
 * Graded relevance from cranqrel lines `<query number> <doc id> <code>`. Codes 1–4 rank relevance
 * from best to least (1: complete answer … 4: minimum interest) and become gains 5 − code, so 4, 3,
 * 2, 1. Code −1 appears once per query and marks its source document: the paper whose author wrote
 * the question (query 1, on similarity laws for heated aeroelastic models, has −1 on document 486,
 * "similarity laws for aerothermoelastic testing"). `sourceGain` is its gain: 4 (a complete
 * answer), as in the figures usually quoted for this collection, or 0 to count judged codes only.
 */
export function parseQrels(source: string, sourceGain = 4): Qrels {
  const qrels: Qrels = new Map();
  for (const line of source.split(/\r?\n/)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3) continue;
    const [q, doc, code] = [Number(parts[0]), parts[1]!, Number(parts[2])];
    if (!Number.isInteger(q)) throw new Error(`bad qrels line: ${line}`);
    const judged = qrels.get(q) ?? new Map<string, number>();
    judged.set(doc, code === -1 ? sourceGain : gainOf(code));
    qrels.set(q, judged);
  }
  return qrels;
}

export function gainOf(code: number): number {
  return code >= 1 && code <= 4 ? 5 - code : 0;
}

export async function loadCranfield(dir: string, sourceGain = 4): Promise<Cranfield> {
  const read = (f: string) => readFile(path.join(dir, f), "utf8");
  const [docs, queries, qrels] = await Promise.all([
    read("cran.all.1400"),
    read("cran.qry"),
    read("cranqrel"),
  ]);
  return { docs: parseDocs(docs), queries: parseQueries(queries), qrels: parseQrels(qrels, sourceGain) };
}
