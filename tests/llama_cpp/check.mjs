// Runs a GGUF export in llama.cpp through node-llama-cpp (its prebuilt CPU binary), for the
// tests and the README's comparison with RankScope:
//   node check.mjs perplexity MODEL TEXT [--lora ADAPTER] [--max-windows N] [--seq-len N]
//                             [--threads N]
//     perplexity with RankScope's tinystories protocol: stories split at <|endoftext|> lines,
//     each [BOS] + tokenize(story.trim()), concatenated, cut into windows of seq_len tokens that
//     each predict the next seq_len tokens; prints {"windows", "predicted", "perplexity"}.
//   node check.mjs greedy MODEL N
//     greedy decoding of N tokens from BOS; prints {"text"}.
//   node check.mjs tokenize MODEL TEXT
//     llama.cpp's token ids of every non-empty line of TEXT (no BOS); prints {"ids": [[...], ...]}.
import {getLlama} from "node-llama-cpp";
import fs from "node:fs";

function option(args, name, fallback) {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
}

// llama.cpp's default thread count oversubscribes small machines (4x slower on 2 cores).
async function open(modelPath, loraPath, contextSize, threads) {
    const llama = await getLlama({gpu: false, logLevel: "error"});
    const model = await llama.loadModel({modelPath});
    const options = {contextSize, batchSize: contextSize, threads};
    if (loraPath)
        options.lora = {adapters: [{filePath: loraPath, scale: 1}]};
    const context = await model.createContext(options);
    return {model, sequence: context.getSequence()};
}

function tokenStream(model, textPath) {
    const stream = [];
    for (const story of fs.readFileSync(textPath, "utf8").split(/^<\|endoftext\|>$/m)) {
        const text = story.trim();
        if (text)
            stream.push(model.tokens.bos, ...model.tokenize(text));
    }
    return stream;
}

async function perplexity(args) {
    const [modelPath, textPath] = args;
    const seqLen = Number(option(args, "--seq-len", "512"));
    const threads = Number(option(args, "--threads", "1"));
    const {model, sequence} = await open(modelPath, option(args, "--lora"), seqLen, threads);
    const stream = tokenStream(model, textPath);
    const available = Math.floor((stream.length - 1) / seqLen);
    const windows = Math.min(available, Number(option(args, "--max-windows", available)));
    let nll = 0, predicted = 0;
    for (let w = 0; w < windows; ++w) {
        await sequence.clearHistory();
        const start = w * seqLen;
        const items = stream.slice(start, start + seqLen)
            .map((token) => [token, {generateNext: {probabilities: true}}]);
        const results = await sequence.controlledEvaluate(items);
        for (let j = 0; j < seqLen; ++j) {
            const p = results[j]?.next?.probabilities?.get(stream[start + j + 1]);
            if (!(p > 0))
                throw new Error(`window ${w}, position ${j}: no probability for the next token`);
            nll -= Math.log(p);
            ++predicted;
        }
    }
    return {windows, predicted, perplexity: Math.exp(nll / predicted)};
}

async function greedy(args) {
    const [modelPath, count] = args;
    const {model, sequence} = await open(modelPath, undefined, 512, 1);
    const tokens = [];
    for await (const token of sequence.evaluate([model.tokens.bos], {temperature: 0})) {
        if (token === model.tokens.eos || token === model.tokens.bos)
            break;
        tokens.push(token);
        if (tokens.length >= Number(count))
            break;
    }
    return {text: model.detokenize(tokens)};
}

async function tokenize(args) {
    const [modelPath, textPath] = args;
    const llama = await getLlama({gpu: false, logLevel: "error"});
    const model = await llama.loadModel({modelPath});
    const lines = fs.readFileSync(textPath, "utf8").split("\n").filter((line) => line.length > 0);
    return {ids: lines.map((line) => Array.from(model.tokenize(line)))};
}

const [command, ...args] = process.argv.slice(2);
const commands = {perplexity, greedy, tokenize};
if (!commands[command]) {
    console.error("usage: node check.mjs perplexity|greedy|tokenize ...");
    process.exit(2);
}
// Exit only once the result is flushed: a pipe takes 64 KiB before process.exit() would cut it.
process.stdout.write(JSON.stringify(await commands[command](args)) + "\n", () => process.exit(0));
