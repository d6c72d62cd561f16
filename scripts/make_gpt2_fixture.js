// Generates the reference fixtures of tests/tst_tokenizer.cpp with independent JavaScript code:
//
//   tests/fixtures/gpt2_wiki200.json       GPT-2 token ids, from the npm package gpt-3-encoder, of
//                                          each of the first 200 lines of WikiText-2's
//                                          wiki.test.raw, every line including its "\n".
//   tests/fixtures/pretokenize_splits.json How the GPT-2, Llama 3 and Qwen2 pre-tokenizer regexes
//                                          split tricky strings and wiki lines, using JavaScript's
//                                          own regex engine (backtracking, Unicode \p{..}).
//
// Usage, from the repository root (shared/ beside it):
//   dir=$(mktemp -d) && (cd "$dir" && npm install gpt-3-encoder@1.1.4)
//   NODE_PATH="$dir/node_modules" node scripts/make_gpt2_fixture.js
'use strict';
const fs = require('fs');
const path = require('path');
const encoder = require('gpt-3-encoder');

const root = path.resolve(__dirname, '..');
const data = path.resolve(root, '..', 'shared', 'data');
const fixtures = path.join(root, 'tests', 'fixtures');
const packageDir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
const packageVersion = require('gpt-3-encoder/package.json').version;

// The package ships its own copy of GPT-2's vocabulary; it must be the one in shared/data.
const ownVocab = JSON.parse(fs.readFileSync(path.join(packageDir, 'encoder.json'), 'utf8'));
const sharedVocab = JSON.parse(fs.readFileSync(path.join(data, 'tokenizers/gpt2/vocab.json'), 'utf8'));
const mergeLines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter(
    (line) => line.length > 0 && !line.startsWith('#version'));
const ownMerges = mergeLines(path.join(packageDir, 'vocab.bpe'));
const sharedMerges = mergeLines(path.join(data, 'tokenizers/gpt2/merges.txt'));
const sameVocab = Object.keys(ownVocab).length === Object.keys(sharedVocab).length &&
    Object.keys(ownVocab).every((piece) => sharedVocab[piece] === ownVocab[piece]);
const sameMerges = ownMerges.length === sharedMerges.length &&
    ownMerges.every((merge, i) => merge === sharedMerges[i]);
if (!sameVocab || !sameMerges) {
    throw new Error('gpt-3-encoder vocabulary differs from shared/data/tokenizers/gpt2');
}

// Lines as the C++ test cuts them: split after every "\n", keeping it.
const wiki = fs.readFileSync(path.join(data, 'text/wikitext-2/wiki.test.raw'), 'utf8');
const lines = wiki.split(/(?<=\n)/).slice(0, 200);

const gpt2 = {
    generator: `gpt-3-encoder ${packageVersion} (npm)`,
    source: 'text/wikitext-2/wiki.test.raw',
    text_rule: 'the first 200 lines, each with its trailing "\\n", encoded separately',
    ids: lines.map((line) => encoder.encode(line)),
};
fs.writeFileSync(path.join(fixtures, 'gpt2_wiki200.json'),
                 '{\n' + Object.entries(gpt2).map(([key, value]) => key === 'ids'
                     ? `"ids": [\n${value.map((ids) => JSON.stringify(ids)).join(',\n')}\n]`
                     : `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(',\n') + '\n}\n');

// JavaScript has no (?i:...) group in this Node version: the case-insensitive contractions are
// spelled out with their case-folding classes (s also matches U+017F LONG S).
const contractionsCi = "'(?:[sS\u017F]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])";
const patterns = {
    gpt2: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
    llama3: new RegExp(contractionsCi + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, 'gu'),
    qwen2: new RegExp(contractionsCi + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, 'gu'),
};
// Avoids U+0085 and U+FEFF, the two characters where JavaScript's \s and Unicode White_Space
// (what Oniguruma, and so Hugging Face, uses) disagree.
const tricky = [
    'Hello world', '  leading spaces', 'trailing spaces   ', 'multiple   spaces   here',
    'tabs\tand\nnewlines\n\n', 'line\r\nbreaks \r\n  x', ' \n', '\n', '   ', "'", "''s",
    "I'm you're they've we'll it's I'd don't", "SHOUTING'S 'RE 'LL 'Ve", "don't stop'til",
    'numbers 1234567 and 12 3.14159 1,000,000', 'abc123def \uFF14\uFF15\uFF16 \u216B \u00BD',
    'punctuation!!! ...? (parens) [brackets] {braces} "quotes"',
    '\u00E9migr\u00E9 caf\u00E9 na\u00EFve \u03A9mega', '\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8\u3001\u53E5\u8AAD\u70B9\u3002',
    'emoji \u{1F600}\u{1F44D}\u{1F3FD} family \u{1F468}\u200D\u{1F469}\u200D\u{1F467}',
    '\t\tindented\n    code();\n', 'a  \n  b', 'x\n\n\ny', '$100 #hashtag @user',
    ' = = Gameplay = = \n', 'wiki @-@ style @,@ 1 @.@ 5', 'A\u00A0non\u2003breaking\u3000space',
    '...\n\n...', ' ?!\n', 'x \u2028y', "\u017Fo 'S 'ſ",
];
const splitText = (text, pattern) => Array.from(text.matchAll(pattern), (m) => m[0]);
const cases = tricky.map((text) => ({text}))
    .concat(lines.slice(0, 100).map((text, index) => ({wiki_line: index, text})));
const splits = {
    generator: `Node.js ${process.version} RegExp with the u flag`,
    wiki_source: gpt2.source,
    cases: cases.map((c) => Object.assign(
        Object.fromEntries(Object.entries(c).filter(([key]) => key !== 'text' || !('wiki_line' in c))),
        Object.fromEntries(Object.entries(patterns).map(([name, p]) => [name, splitText(c.text, p)])))),
};
fs.writeFileSync(path.join(fixtures, 'pretokenize_splits.json'),
                 `{\n"generator": ${JSON.stringify(splits.generator)},\n` +
                 `"wiki_source": ${JSON.stringify(splits.wiki_source)},\n` +
                 `"cases": [\n${splits.cases.map((c) => JSON.stringify(c)).join(',\n')}\n]\n}\n`);
console.log(`wrote ${gpt2.ids.length} GPT-2 lines and ${cases.length} split cases`);
