import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { ConfigIssue } from '../errors.js';

/**
 * The yaml package's messages that quote nothing of the document, kept as they are. Others carry
 * source text (`Block scalar header includes extra characters: |<rest of the line>`, `Not a YAML
 * token: …`, `The … tag has no suffix`, `Unresolved plain scalar "…"`), and that line may be a
 * secret's: those are described by their error code instead. A message not listed here (a newer
 * yaml's wording) falls back to the code too, so nothing new can leak.
 */
const PLAIN_MESSAGES = new Set([
  'Map keys must be unique',
  'Missing closing "quote',
  "Missing closing 'quote",
  'Source contains multiple documents; please use YAML.parseAllDocuments()',
  'Tabs are not allowed as indentation',
  'Implicit keys need to be on a single line',
  'Implicit map keys need to be followed by map values',
  'Nested mappings are not allowed in compact mappings',
  'All sequence items must start at the same column',
  'Sequence item without - indicator',
  'A block sequence may not be used as an implicit map key',
  'Block scalar header not found',
  'Comments must be separated from other tokens by white space characters',
  'Each pair must have its own sequence indicator',
  'A node can have at most one anchor',
  'A node can have at most one tag',
  'An alias node must not specify any properties',
  'Map comment with trailing content',
  'Tags and anchors must be separated from the next token by white space',
]);

const BY_CODE: Record<string, string> = {
  ALIAS_PROPS: 'an alias (*name) cannot have an anchor or a tag',
  BAD_ALIAS: 'an alias (*name) is not valid here',
  BAD_COLLECTION_TYPE: 'a tag does not fit the collection it is on',
  BAD_DIRECTIVE: 'a %directive is not valid',
  BAD_DQ_ESCAPE: 'a double-quoted string has an invalid escape sequence',
  BAD_INDENT: 'the indentation is wrong here',
  BAD_PROP_ORDER: 'an anchor or tag is out of place',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote the value)',
  BLOCK_AS_IMPLICIT_KEY: 'a block collection cannot be a key',
  BLOCK_IN_FLOW: 'a block collection cannot be inside [ ] or { }',
  DUPLICATE_KEY: 'Map keys must be unique',
  KEY_OVER_1024_CHARS: 'a key is longer than 1024 characters',
  MISSING_CHAR: 'a closing quote, bracket, comma or colon is missing',
  MULTILINE_IMPLICIT_KEY: 'Implicit keys need to be on a single line',
  MULTIPLE_ANCHORS: 'A node can have at most one anchor',
  MULTIPLE_DOCS: 'the file holds more than one YAML document',
  MULTIPLE_TAGS: 'A node can have at most one tag',
  NON_STRING_KEY: 'keys must be strings',
  RESOURCE_EXHAUSTION: 'too many aliases',
  TAB_AS_INDENT: 'Tabs are not allowed as indentation',
  TAG_RESOLVE_FAILED: 'an unknown !tag (this file format uses none)',
  UNEXPECTED_TOKEN: 'YAML cannot read the text here (a value that needs quotes?)',
};

/** What went wrong, in words that never repeat the document's text. */
function describe(error: YAMLError): string {
  const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return PLAIN_MESSAGES.has(message) ? message : (BY_CODE[error.code] ?? 'YAML cannot read the text here');
}

/**
 * Parses one YAML document into plain data. Syntax errors become issues with a line and column
 * but without the source excerpt the yaml package would print (that line may hold a secret).
 * Returns undefined when the text is not usable.
 */
export function parseYaml(text: string, label: string, issues: ConfigIssue[]): unknown {
  const lineCounter = new LineCounter();
  // uniqueKeys (default) makes a repeated key an error instead of a silent override
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const where = lineCounter.linePos(error.pos[0]);
      issues.push({ path: label, message: `YAML syntax error at line ${where.line}, column ${where.col}: ${describe(error)}` });
    }
    return undefined;
  }
  if (doc.contents === null) {
    issues.push({ path: label, message: 'the file is empty' });
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // the yaml package finds these only while building the data, not while parsing
    issues.push({ path: label, message: `YAML syntax error: ${aliasProblem(error)}` });
    return undefined;
  }
}

function aliasProblem(error: unknown): string {
  if (error instanceof ReferenceError) return 'an alias (*name) has no anchor (&name) before it';
  const message = error instanceof Error ? error.message : '';
  if (/alias/i.test(message)) return 'too many aliases (at most 100; a "billion laughs" document?)';
  return 'the document cannot be read';
}
