import { TokenType } from "./constants.js";

/** SentencePiece's word-boundary marker; llama.cpp decodes it as a space. */
export const SPM_SPACE = "\u2581";

export interface LlamaVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly tokenTypes: readonly number[];
  readonly unknownTokenId: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
}

const WORDS = `the of and to in is it that was for on are as with his they at be this from have or by one had
not but what all were when we there can an your which their said if do will each about how up out them then
she many some so these would other into has more her two like him see time could no make than first been its
who now people my made over did down only way find use may water long little very after words called just
where most know get through back much go good new write our me man too any day same right look think also
around another came come work three word must because does part even place well such here take why help put
different away again off went old number great tell men say small every found still between name should home
big give air line set own under read last never us left end along while might next sound below saw something
thought both few those always looked show large often together asked house world going want school important
until form food keep children feet land side without boy once animals life enough took sometimes four head
above kind began almost live page got earth need far hand high year mother light parts country father let
night following picture being study second eyes soon times story boys since white days ever paper hard near
sentence better best across during today others however sure means knew tried kept`.split(/\s+/);

const LETTERS = "abcdefghijklmnopqrstuvwxyz".split("");
const SUFFIXES = ["s", "ed", "ing", "er", "ly", "es", "en", "est", "ion", "tion", "ness", "ful", "al", "ic"];
const PUNCTUATION = [".", ",", "!", "?", "'", ";", ":", "-"];

/**
 * SentencePiece-style pieces: whole words, then every word prefix (so the tokenizer can
 * merge its way up to whole words), common suffixes, letters and punctuation.
 */
export const DEFAULT_PIECES: readonly string[] = unique([
  SPM_SPACE,
  ...WORDS.map((word) => SPM_SPACE + word),
  ...WORDS.flatMap((word) => prefixes(SPM_SPACE + word)),
  ...SUFFIXES,
  ...LETTERS.map((letter) => SPM_SPACE + letter),
  ...LETTERS,
  ...PUNCTUATION,
]);

/**
 * A llama (SentencePiece) vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte-fallback tokens
 * `<0x00>`..`<0xFF>`, then `pieces` as normal tokens with descending scores.
 */
export function buildSpmVocab(pieces: readonly string[] = DEFAULT_PIECES): LlamaVocab {
  const special = ["<unk>", "<s>", "</s>"];
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const tokens = [...special, ...bytes, ...pieces];
  if (new Set(tokens).size !== tokens.length)
    throw new RangeError("vocabulary pieces must be unique and not special");
  if (pieces.some((piece) => piece.length === 0)) throw new RangeError("vocabulary pieces must not be empty");
  return {
    tokens,
    scores: [...special.map(() => 0), ...bytes.map(() => 0), ...pieces.map((_, i) => -i)],
    tokenTypes: [
      TokenType.UNKNOWN,
      TokenType.CONTROL,
      TokenType.CONTROL,
      ...bytes.map(() => TokenType.BYTE),
      ...pieces.map(() => TokenType.NORMAL),
    ],
    unknownTokenId: 0,
    bosTokenId: 1,
    eosTokenId: 2,
  };
}

function prefixes(piece: string): string[] {
  return Array.from({ length: piece.length - 2 }, (_, i) => piece.slice(0, i + 2));
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
