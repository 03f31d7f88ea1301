// Every task on small fixture folders in each layout it reads, scored from hand-written answers in
// LLaVA's answer JSONL; the expected figures are worked out by hand in the comments. Bad data (wrong
// layout, an answers file of another task, a corrupt parquet file) is one DataError naming the file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { readAnswers, type AnswerLine } from '../answers-file.js';
import { scoreAnswers } from '../score-answers.js';
import { pngBytes, writeJson, writeJsonl, writeLlavaAnswers, writeParquet, writePng, writeText } from '../test-helpers.js';
import { evalTask } from './index.js';
import { SHORT_ANSWER, type TaskScore } from './types.js';

const SHORT = `\n${SHORT_ANSWER}`;
const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} should be ${expected}`);

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'visdrop-eval-tasks-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

async function score(task: string, data: string, answers: readonly { question_id: string | number; prompt: string; text: string }[]): Promise<TaskScore> {
  const file = join(data, '..', `${task}-answers-${Math.random().toString(36).slice(2)}.jsonl`);
  writeLlavaAnswers(file, answers);
  const loaded = await evalTask(task).load(data);
  return scoreAnswers(task, loaded, readAnswers(file).answers, file);
}

/** Answers to a task's loaded questions, in order, with the given texts. */
async function answersTo(task: string, data: string, texts: readonly string[]): Promise<AnswerLine[]> {
  const loaded = await evalTask(task).load(data);
  assert.equal(loaded.questions.length, texts.length);
  return loaded.questions.map((q, i) => ({ question_id: q.questionId, prompt: q.prompt, text: texts[i]! }));
}

const ten = (...groups: [string, number][]) => groups.flatMap(([a, n]) => Array<string>(n).fill(a));

describe('textvqa', () => {
  const questions = [
    { question_id: 100, image: 'a.jpg', text: `what brand is this?\nReference OCR token: Nikon, D3${SHORT}` },
    { question_id: 100, image: 'a.jpg', text: `what number is shown?\nReference OCR token: 2,000${SHORT}` },
    { question_id: 200, image: 'b.jpg', text: `what does the sign say?\nReference OCR token: STOP${SHORT}` },
  ];
  const annotations = [
    { image_id: 100, question: 'what brand is this?', answers: ['nikon', 'nikon', 'nikon', 'nikon', 'canon', 'canon', 'nikon.', 'the nikon', 'Nikon', 'sony'], ocr_tokens: ['Nikon', 'D3'] },
    { image_id: 100, question: 'what number is shown?', answers: ten(['2000', 6], ['2,000', 2], ['2 000', 1], ['two thousand', 1]), ocr_tokens: ['2,000'] },
    { image_id: 200, question: 'what does the sign say?', answers: ten(['STOP', 10]), ocr_tokens: ['STOP'] },
  ];
  // "Canon." -> canon: the 2 canons see 1 other (1/3), the 8 others see 2 (2/3): 0.6 either way.
  // "2,000" -> 2000 (EvalAI drops commas; official deletes marks on digit-comma-digit): 8 matches, 1.
  // "stop" against ten identical "STOP": EvalAI lower-cases both (1); the official compares as given (0).
  const texts = ['Canon.', '2,000', 'stop'];
  let llava: string;
  before(async () => {
    llava = join(root, 'textvqa');
    writeJsonl(join(llava, 'llava_textvqa_val_v051_ocr.jsonl'), questions);
    writeJson(join(llava, 'TextVQA_0.5.1_val.json'), { data: annotations });
    await writePng(join(llava, 'train_images', 'a.jpg'), 1);
    await writePng(join(llava, 'train_images', 'b.jpg'), 2);
  });

  it("LLaVA layout: EvalAI normaliser's accuracy as the score, the official beside it", async () => {
    const s = await score('textvqa', llava, questions.map((q, i) => ({ question_id: q.question_id, prompt: q.text, text: texts[i]! })));
    near(s.score, (100 * (0.6 + 1 + 1)) / 3);
    near(s.metrics.accuracyOfficialNormaliser as number, (100 * (0.6 + 1 + 0)) / 3);
    assert.equal(s.metrics.normaliser, 'evalai');
  });

  it('without OCR tokens: prompts lose the OCR line, and are matched by (image id, question) as LLaVA does', async () => {
    const loaded = await evalTask('textvqa-no-ocr').load(llava);
    assert.equal(loaded.questions[0]!.prompt, `what brand is this?${SHORT}`);
    const s = await score('textvqa-no-ocr', llava, loaded.questions.map((q, i) => ({ question_id: q.questionId, prompt: q.prompt, text: texts[i]! })));
    near(s.score, (100 * 2.6) / 3);
  });

  it('parquet layout: the same prompts and scores', async () => {
    const dir = join(root, 'textvqa-hf');
    const image = await pngBytes(1);
    writeParquet(join(dir, 'data', 'validation-00000-of-00001.parquet'), annotations.map((a, i) => ({ question_id: i, image_id: a.image_id, question: a.question, answers: a.answers, ocr_tokens: a.ocr_tokens, image })));
    const loaded = await evalTask('textvqa').load(dir);
    assert.deepEqual(loaded.questions.map((q) => q.prompt), questions.map((q) => q.text));
    const s = await score('textvqa', dir, questions.map((q, i) => ({ question_id: q.question_id, prompt: q.text, text: texts[i]! })));
    near(s.score, (100 * 2.6) / 3);
  });
});

describe('gqa', () => {
  // "Yes." -> yes (right), "Left" -> left (right), "the table" kept as is (wrong): 2 of 3.
  const texts = ['Yes.', 'Left', 'the table'];
  const official = { '201': { imageId: 'n1', question: 'Is the sky blue?', answer: 'yes' }, '202': { imageId: 'n1', question: 'Where is the dog?', answer: 'left' }, '203': { imageId: 'n2', question: 'What is it on?', answer: 'table' } };
  it('LLaVA layout', async () => {
    const dir = join(root, 'gqa');
    writeJsonl(join(dir, 'llava_gqa_testdev_balanced.jsonl'), Object.entries(official).map(([id, q]) => ({ question_id: id, image: `${q.imageId}.jpg`, text: `${q.question}${SHORT}` })));
    writeJson(join(dir, 'data', 'testdev_balanced_questions.json'), official);
    const s = await score('gqa', dir, await answersTo('gqa', dir, texts));
    near(s.score, 200 / 3);
  });
  it('parquet layout: instruction and image files joined by image id', async () => {
    const dir = join(root, 'gqa-hf');
    writeParquet(join(dir, 'testdev_balanced_instructions', 'part.parquet'), Object.entries(official).map(([id, q]) => ({ id, imageId: q.imageId, question: q.question, answer: q.answer })));
    writeParquet(join(dir, 'testdev_balanced_images', 'part.parquet'), [{ id: 'n1', image: await pngBytes(1) }, { id: 'n2', image: await pngBytes(2) }]);
    const answers = await answersTo('gqa', dir, texts);
    assert.equal(answers[0]!.prompt, `Is the sky blue?${SHORT}`);
    near((await score('gqa', dir, answers)).score, 200 / 3);
  });
});

describe('pope', () => {
  const rows = [
    { category: 'random', q: 'Is there a dog in the image?', label: 'yes', text: 'Yes, there is a dog.' },
    { category: 'random', q: 'Is there a cat in the image?', label: 'yes', text: 'No' },
    { category: 'random', q: 'Is there a car in the image?', label: 'no', text: 'There is no car.' },
    { category: 'random', q: 'Is there a bus in the image?', label: 'no', text: 'I am not sure' },
    { category: 'adversarial', q: 'Is there a fork in the image?', label: 'no', text: 'Yes' },
    { category: 'adversarial', q: 'Is there a cup in the image?', label: 'yes', text: 'yes' },
    { category: 'adversarial', q: 'Is there a bowl in the image?', label: 'yes', text: 'No.' },
  ];
  // random: TP 1, FN 1, TN 2: accuracy 75, precision 100, recall 50, F1 66.67, yes-ratio 25.
  // adversarial: TP 1, FP 1, FN 1: precision 50, recall 50, F1 50, accuracy 33.3, yes-ratio 66.7.
  const check = (s: TaskScore) => {
    const per = s.metrics.perCategory as Record<string, Record<string, number>>;
    near(per.random!.f1!, 200 / 3);
    near(per.random!.accuracy!, 75);
    near(per.random!.yesRatio!, 25);
    near(per.adversarial!.f1!, 50);
    near(per.adversarial!.yesRatio!, 200 / 3);
    near(s.score, (200 / 3 + 50) / 2);
  };
  it('LLaVA layout: label files paired by position within each category', async () => {
    const dir = join(root, 'pope');
    writeJsonl(join(dir, 'llava_pope_test.jsonl'), rows.map((r, i) => ({ question_id: i + 1, image: `COCO_val2014_${i}.jpg`, text: `${r.q}${SHORT}`, category: r.category })));
    for (const category of ['random', 'adversarial']) {
      writeJsonl(join(dir, 'coco', `coco_pope_${category}.json`), rows.map((r, i) => ({ ...r, i })).filter((r) => r.category === category).map((r, j) => ({ question_id: j + 1, image: `COCO_val2014_${r.i}.jpg`, text: r.q, label: r.label })));
    }
    check(await score('pope', dir, rows.map((r, i) => ({ question_id: i + 1, prompt: `${r.q}${SHORT}`, text: r.text }))));
  });
  it('parquet layout', async () => {
    const dir = join(root, 'pope-hf');
    const image = await pngBytes(3);
    writeParquet(join(dir, 'test.parquet'), rows.map((r, i) => ({ question_id: String(i + 1), question: r.q, answer: r.label, category: r.category, image })));
    check(await score('pope', dir, await answersTo('pope', dir, rows.map((r) => r.text))));
  });
});

describe('mme', () => {
  // existence: image 1 both right, image 2 one wrong ("Yes, there is" parses as yes, truth no):
  // acc 75 + acc+ 50 = 125. artwork: one wrong: 50 + 0. code_reasoning: "Maybe" is other: 50 + 0.
  // Perception 125 + 50 = 175, Cognition 50.
  const items = [
    { id: 'existence/000001.jpg', image: 'existence/000001.jpg', q: 'Is there a dog in this image?', gt: 'Yes', text: 'Yes' },
    { id: 'existence/000001.jpg', image: 'existence/000001.jpg', q: 'Is there a cat in this image?', gt: 'No', text: 'No' },
    { id: 'existence/000002.jpg', image: 'existence/000002.jpg', q: 'Is there a car in this image?', gt: 'Yes', text: 'yes' },
    { id: 'existence/000002.jpg', image: 'existence/000002.jpg', q: 'Is there a bus in this image?', gt: 'No', text: 'Yes, there is' },
    { id: 'artwork/10002.jpg', image: 'artwork/images/10002.jpg', q: 'Is this artwork created by Monet?', gt: 'Yes', text: 'no' },
    { id: 'artwork/10002.jpg', image: 'artwork/images/10002.jpg', q: 'Is this artwork created by Dali?', gt: 'No', text: 'No' },
    { id: 'code_reasoning/0020.png', image: 'code_reasoning/0020.png', q: 'Will the code print 3?', gt: 'Yes', text: 'Yes' },
    { id: 'code_reasoning/0020.png', image: 'code_reasoning/0020.png', q: 'Will the code print 4?', gt: 'No', text: 'Maybe' },
  ];
  const check = (s: TaskScore) => {
    near(s.score, 175);
    near(s.metrics.perception as number, 175);
    near(s.metrics.cognition as number, 50);
    const subtasks = s.metrics.subtasks as Record<string, Record<string, number>>;
    near(subtasks.existence!.acc!, 75);
    near(subtasks.existence!.accPlus!, 50);
  };
  it("LLaVA layout: ground truth from the official release's .txt files", async () => {
    const dir = join(root, 'mme');
    writeJsonl(join(dir, 'llava_mme.jsonl'), items.map((i) => ({ question_id: i.id, image: i.image, text: `${i.q}${SHORT}`, category: i.id.split('/')[0] })));
    const release = join(dir, 'MME_Benchmark_release_version');
    const txt = (subtaskFile: string, list: typeof items) => writeText(subtaskFile, list.map((i) => `${i.q} Please answer yes or no.\t${i.gt}\n`).join(''));
    txt(join(release, 'existence', '000001.txt'), items.slice(0, 2));
    txt(join(release, 'existence', '000002.txt'), items.slice(2, 4));
    txt(join(release, 'artwork', 'questions_answers_YN', '10002.txt'), items.slice(4, 6));
    await writePng(join(release, 'artwork', 'images', '10002.jpg'), 4);
    txt(join(release, 'code_reasoning', '0020.txt'), items.slice(6));
    check(await score('mme', dir, items.map((i) => ({ question_id: i.id, prompt: `${i.q}${SHORT}`, text: i.text }))));
  });
  it('parquet layout: "Please answer yes or no." replaced by the short-answer instruction', async () => {
    const dir = join(root, 'mme-hf');
    const image = await pngBytes(5);
    writeParquet(join(dir, 'test.parquet'), items.map((i) => ({ question_id: i.id, question: `${i.q} Please answer yes or no.`, answer: i.gt, category: i.id.split('/')[0]!, image })));
    const answers = await answersTo('mme', dir, items.map((i) => i.text));
    assert.equal(answers[0]!.prompt, `Is there a dog in this image?${SHORT}`);
    check(await score('mme', dir, answers));
  });
});

describe('scienceqa-img', () => {
  // B (right); "The answer is A." (right); "E" beyond 4 choices (wrong); "A is correct" FAILED (wrong): 50%.
  const problems = {
    '10': { question: 'Which is a mammal?', choices: ['frog', 'cat', 'fish'], answer: 1, hint: '', image: 'image.png' },
    '11': { question: 'Which is hot?', choices: ['sun', 'ice'], answer: 0, hint: 'Look.', image: 'image.png' },
    '12': { question: 'No image here?', choices: ['a', 'b'], answer: 0, hint: '', image: null },
    '13': { question: 'Which is a bird?', choices: ['dog', 'cow', 'owl', 'ant'], answer: 2, hint: '', image: 'image.png' },
    '14': { question: 'Which is wet?', choices: ['water', 'sand'], answer: 0, hint: '', image: 'image.png' },
  };
  const texts = ['B', 'The answer is A.', 'E', 'A is correct'];
  it("LLaVA layout: only questions with an image, LLaVA's prompt and letter parsing", async () => {
    const dir = join(root, 'scienceqa');
    writeJson(join(dir, 'problems.json'), problems);
    writeJson(join(dir, 'pid_splits.json'), { test: Object.keys(problems) });
    writeJson(
      join(dir, 'llava_test_CQM-A.json'),
      Object.entries(problems).map(([id, p]) => ({
        id,
        ...(p.image ? { image: 'image.png' } : {}),
        conversations: [{ from: 'human', value: `${p.image ? '<image>\n' : ''}Context: ${p.hint}\n${p.question}\n${p.choices.map((c, i) => `${'ABCD'[i]}. ${c}`).join('\n')}` }, { from: 'gpt', value: 'X' }],
      })),
    );
    for (const id of ['10', '11', '13', '14']) await writePng(join(dir, 'images', 'test', id, 'image.png'), Number(id));
    const loaded = await evalTask('scienceqa-img').load(dir);
    assert.equal(loaded.questions.length, 4);
    assert.equal(loaded.questions[0]!.prompt, "<image>\nContext: \nWhich is a mammal?\nA. frog\nB. cat\nC. fish\nAnswer with the option's letter from the given choices directly.");
    assert.ok('path' in loaded.questions[0]!.image && loaded.questions[0]!.image.path.endsWith(join('test', '10', 'image.png')));
    near((await score('scienceqa-img', dir, await answersTo('scienceqa-img', dir, texts))).score, 50);
  });
  it('parquet layout (ScienceQA-IMG): context, question and lettered choices', async () => {
    const dir = join(root, 'scienceqa-hf');
    const rows = [];
    for (const p of Object.values(problems)) rows.push({ question: p.question, choices: p.choices, answer: p.answer, hint: p.hint, image: p.image ? await pngBytes(7) : null });
    writeParquet(join(dir, 'test.parquet'), rows);
    const answers = await answersTo('scienceqa-img', dir, texts);
    assert.equal(answers[1]!.prompt, "<image>\nContext: Look.\nWhich is hot?\nA. sun\nB. ice\nAnswer with the option's letter from the given choices directly.");
    near((await score('scienceqa-img', dir, answers)).score, 50);
  });
});

describe('vqav2', () => {
  // "Two" -> 2 (LLaVA's converter), 7 of 10 say 2 or two: 1. "Yes" -> yes against ten identical
  // "yes" (the official compares as given, after the converter lower-cased it): 1. "red" against
  // 2 red + 8 dark red: 0.6. Accuracy 86.67; per answer type 100 / 100 / 60.
  const annotations = [
    { question_id: 1, answers: ten(['2', 4], ['two', 3], ['3', 3]).map((answer) => ({ answer })), answer_type: 'number', question: 'How many dogs?' },
    { question_id: 2, answers: ten(['yes', 10]).map((answer) => ({ answer })), answer_type: 'yes/no', question: 'Is it sunny?' },
    { question_id: 3, answers: ten(['red', 2], ['dark red', 8]).map((answer) => ({ answer })), answer_type: 'other', question: 'What colour is the bus?' },
  ];
  const texts = ['Two', 'Yes', 'red'];
  const check = (s: TaskScore) => {
    near(s.score, (100 * 2.6) / 3);
    assert.deepEqual(Object.keys(s.metrics.perAnswerType as object), ['number', 'other', 'yes/no']);
    near((s.metrics.perAnswerType as Record<string, number>).other!, 60);
  };
  it('LLaVA layout with the official annotations', async () => {
    const dir = join(root, 'vqav2');
    writeJsonl(join(dir, 'llava_vqav2_mscoco_val2014.jsonl'), annotations.map((a) => ({ question_id: a.question_id, image: 'COCO_val2014_000000000001.jpg', text: `${a.question}${SHORT}` })));
    writeJson(join(dir, 'v2_mscoco_val2014_annotations.json'), { annotations: annotations.map(({ question, ...a }) => a) });
    check(await score('vqav2', dir, await answersTo('vqav2', dir, texts)));
  });
  it('parquet layout', async () => {
    const dir = join(root, 'vqav2-hf');
    const image = await pngBytes(8);
    writeParquet(join(dir, 'validation.parquet'), annotations.map((a) => ({ question_id: a.question_id, question: a.question, answers: a.answers, answer_type: a.answer_type, image })));
    check(await score('vqav2', dir, await answersTo('vqav2', dir, texts)));
  });
});

describe('docvqa', () => {
  // 1 (exact after normalising), 1 - 1/10 = 0.9 ("ACME Corp." against "ACME Corp"), 0 ("none" against
  // "Total": 1 - 4/5 = 0.2 < 0.5): ANLS 63.33.
  const entries = [
    { questionId: 1, question: 'What is the date?', image: 'documents/d1.png', answers: ['1 May 2020', 'May 1, 2020'] },
    { questionId: 2, question: 'Who sent it?', image: 'documents/d1.png', answers: ['ACME Corp'] },
    { questionId: 3, question: 'What is in the first column?', image: 'documents/d2.png', answers: ['Total'] },
  ];
  const texts = ['1 may 2020', 'ACME Corp.', 'none'];
  it('official layout', async () => {
    const dir = join(root, 'docvqa');
    writeJson(join(dir, 'val_v1.0.json'), { data: entries });
    near((await score('docvqa', dir, await answersTo('docvqa', dir, texts))).score, (100 * 1.9) / 3);
  });
  it('parquet layout', async () => {
    const dir = join(root, 'docvqa-hf');
    const image = await pngBytes(9);
    writeParquet(join(dir, 'validation.parquet'), entries.map((e) => ({ questionId: e.questionId, question: e.question, answers: e.answers, image })));
    near((await score('docvqa', dir, await answersTo('docvqa', dir, texts))).score, (100 * 1.9) / 3);
  });
});

describe('chartqa', () => {
  // human: 12.5 within 5% of 12 (right), "apples" = "Apples" (right); augmented: 30% against 25% (wrong).
  const rows = [
    { type: 'human_test', imgname: 'c1.png', question: 'What is the value?', answer: '12', text: '12.5' },
    { type: 'human_test', imgname: 'c2.png', question: 'Which is largest?', answer: 'Apples', text: 'apples' },
    { type: 'augmented_test', imgname: 'c3.png', question: 'What percent?', answer: '25%', text: '30%' },
  ];
  const check = (s: TaskScore) => {
    near(s.score, 200 / 3);
    assert.deepEqual(s.metrics.perSplit, { augmented_test: 0, human_test: 100 });
  };
  it('official layout', async () => {
    const dir = join(root, 'chartqa');
    writeJson(join(dir, 'test', 'test_human.json'), rows.slice(0, 2).map((r) => ({ imgname: r.imgname, query: r.question, label: r.answer })));
    writeJson(join(dir, 'test', 'test_augmented.json'), rows.slice(2).map((r) => ({ imgname: r.imgname, query: r.question, label: r.answer })));
    check(await score('chartqa', dir, await answersTo('chartqa', dir, rows.map((r) => r.text))));
  });
  it('parquet layout', async () => {
    const dir = join(root, 'chartqa-hf');
    const image = await pngBytes(10);
    writeParquet(join(dir, 'test.parquet'), rows.map((r) => ({ type: r.type, question: r.question, answer: r.answer, image })));
    const answers = await answersTo('chartqa', dir, rows.map((r) => r.text));
    assert.equal(answers[0]!.prompt, 'What is the value?\nAnswer the question with a single word.');
    check(await score('chartqa', dir, answers));
  });
});

describe('synth', () => {
  it('exact match after the official normaliser, overall and per category', async () => {
    const dir = join(root, 'synth');
    const qs = [
      { question_id: 's1', image: 's1.png', text: `What colour is the shape?${SHORT}`, answer: 'red', category: 'colour' },
      { question_id: 's2', image: 's2.png', text: `How many shapes are there?${SHORT}`, answer: '2', category: 'count' },
      { question_id: 's3', image: 's3.png', text: `What colour is the circle?${SHORT}`, answer: 'blue', category: 'colour' },
    ];
    writeJsonl(join(dir, 'test.jsonl'), qs);
    // "Red." -> red (right), "two" -> 2 (right), "green" (wrong).
    const s = await score('synth', dir, qs.map((q, i) => ({ question_id: q.question_id, prompt: q.text, text: ['Red.', 'two', 'green'][i]! })));
    near(s.score, 200 / 3);
    assert.deepEqual(s.metrics.perCategory, { colour: { n: 2, accuracy: 50 }, count: { n: 1, accuracy: 100 } });
  });
});

describe('bad data', () => {
  it('a question file of the wrong layout names the file, line and field', async () => {
    const dir = join(root, 'gqa-bad');
    writeJsonl(join(dir, 'llava_gqa_testdev_balanced.jsonl'), [{ question_id: '1', image: 'a.jpg', question: 'text is missing' }]);
    await assert.rejects(evalTask('gqa').load(dir), (e: unknown) => e instanceof DataError && /llava_gqa_testdev_balanced\.jsonl:1: "text"/.test(e.message));
  });
  it('a folder with neither layout', async () => {
    const empty = join(root, 'empty');
    writeText(join(empty, 'README.txt'), 'nothing here');
    await assert.rejects(evalTask('pope').load(empty), (e: unknown) => e instanceof DataError && e.message.includes('neither'));
  });
  it('an answers file of another task', async () => {
    const dir = join(root, 'synth');
    const file = join(root, 'pope-answers.jsonl');
    writeLlavaAnswers(file, [{ question_id: 1, prompt: `Is there a dog in the image?${SHORT}`, text: 'yes' }]);
    const loaded = await evalTask('synth').load(dir);
    assert.throws(() => scoreAnswers('synth', loaded, readAnswers(file).answers, file), (e: unknown) => e instanceof DataError && e.message.includes('another task'));
  });
  it('a corrupt parquet file', async () => {
    const dir = join(root, 'corrupt');
    writeText(join(dir, 'test.parquet'), 'PAR1 this is not a parquet file');
    await assert.rejects(evalTask('docvqa').load(dir), (e: unknown) => e instanceof DataError && e.message.includes('test.parquet') && e.message.includes('corrupt'));
  });
  it('a truncated parquet file', async () => {
    const dir = join(root, 'truncated');
    writeParquet(join(dir, 'full.parquet'), [{ questionId: 1, question: 'q', answers: ['a'], image: await pngBytes(1) }]);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(join(dir, 'full.parquet'));
    writeFileSync(join(dir, 'full.parquet'), bytes.subarray(0, bytes.length - 20));
    await assert.rejects(evalTask('docvqa').load(dir), (e: unknown) => e instanceof DataError && e.message.includes('full.parquet'));
  });
});
