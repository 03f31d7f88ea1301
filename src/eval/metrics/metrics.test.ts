// The normalisers and metrics on the edge cases formats.md 4.3 lists, with values worked out by hand
// from the reference code's rules (vqaEval.py, m4c_evaluator.py, eval_pope.py, calculation.py,
// eval_science_qa.py, lmms-eval's anls and relaxed_correctness).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evalAiNormalise, officialNormalise, processPunctuation } from './vqa-normalize.js';
import { vqaSoftAccuracy } from './vqa-accuracy.js';
import { gqaPrediction, synthCorrect } from './exact-match.js';
import { binaryMetrics, parsePopeAnswer } from './pope.js';
import { mmeScores, parseMmeAnswer } from './mme.js';
import { parseScienceQaLetter, scienceQaChoice } from './scienceqa.js';
import { anls, levenshtein } from './anls.js';
import { pythonFloat, relaxedCorrect } from './relaxed.js';

describe('official VQA normaliser', () => {
  it('punctuation touching digits: a digit-comma-digit deletes every mark, periods stay before a digit', () => {
    assert.equal(officialNormalise('1,000'), '1000');
    assert.equal(officialNormalise('3.5'), '3.5');
    assert.equal(officialNormalise('3.'), '3');
    assert.equal(officialNormalise('2,5-3'), '253'); // the comma rule deletes "-" too
    assert.equal(officialNormalise('10-15'), '10 15'); // no comma: "-" becomes a space
  });
  it('a mark touching a space is deleted, else it becomes a space', () => {
    assert.equal(processPunctuation('yes - no'), 'yes  no');
    assert.equal(officialNormalise('black/white'), 'black white');
    assert.equal(officialNormalise('(left)'), 'left');
    assert.equal(officialNormalise('hello!'), 'hello');
  });
  it("keeps ':' and \"'\" (not in the list)", () => {
    assert.equal(officialNormalise('10:30'), '10:30');
    assert.equal(officialNormalise("man's"), "man's");
  });
  it('the period rule removes every period not followed by a digit (the look-behind written as a look-ahead), at most 32', () => {
    assert.equal(officialNormalise('u.s.a.'), 'usa');
    assert.equal(officialNormalise('.5'), '.5');
    assert.equal(processPunctuation('.'.repeat(40)), '.'.repeat(8));
  });
  it('number words, articles, contractions (typographic apostrophes)', () => {
    assert.equal(officialNormalise('Two dogs'), '2 dogs');
    assert.equal(officialNormalise('none'), '0');
    assert.equal(officialNormalise('eleven'), 'eleven');
    assert.equal(officialNormalise('A Dog and the cat'), 'dog and cat');
    assert.equal(officialNormalise('dont'), 'don\u2019t');
    assert.equal(officialNormalise('cant'), "can't");
  });
});

describe('EvalAI/MMF normaliser', () => {
  it("lower-cases, drops ',' and '?', splits 's", () => {
    assert.equal(evalAiNormalise("McDonald's?"), "mcdonald 's");
    assert.equal(evalAiNormalise('1,000'), '1000');
    assert.equal(evalAiNormalise('Two'), '2');
  });
  it('contractions in ASCII', () => {
    assert.equal(evalAiNormalise('dont'), "don't");
  });
  it('the same period rule', () => {
    assert.equal(evalAiNormalise('3.'), '3');
    assert.equal(evalAiNormalise('Nikon.'), 'nikon');
  });
});

describe('VQA soft accuracy', () => {
  const tenOf = (...groups: [string, number][]) => groups.flatMap(([a, n]) => Array<string>(n).fill(a));
  it('min(1, matches among the other nine / 3), averaged over the ten', () => {
    const truths = tenOf(['red', 2], ['dark red', 8]);
    assert.ok(Math.abs(vqaSoftAccuracy('red', truths, 'official') - 0.6) < 1e-12);
    assert.equal(vqaSoftAccuracy('dark red', truths, 'official'), 1);
    assert.equal(vqaSoftAccuracy('blue', truths, 'official'), 0);
    // One match: each of the nine others gets 1/3, the matching one 0.
    assert.ok(Math.abs(vqaSoftAccuracy('blue', tenOf(['blue', 1], ['red', 9]), 'official') - 0.3) < 1e-12);
  });
  it('all-identical ground truths: the official compares after whitespace clean-up alone, EvalAI normalises', () => {
    const truths = tenOf(['Yes', 10]);
    assert.equal(vqaSoftAccuracy('yes', truths, 'official'), 0);
    assert.equal(vqaSoftAccuracy(' Yes\n', truths, 'official'), 1);
    assert.equal(vqaSoftAccuracy('yes', truths, 'evalai'), 1);
  });
  it('differing ground truths: both sides normalised (number words, articles)', () => {
    const truths = tenOf(['2', 4], ['two', 3], ['the 3', 3]);
    assert.equal(vqaSoftAccuracy('Two', truths, 'official'), 1);
    // Three matches: each of the three "3"s sees two among the others (2/3), the other seven see three.
    assert.ok(Math.abs(vqaSoftAccuracy('3', truths, 'official') - 0.9) < 1e-12);
  });
});

describe('GQA and synth exact match', () => {
  it("GQA: rstrip('.') and lower() only", () => {
    assert.equal(gqaPrediction('Yes.'), 'yes');
    assert.equal(gqaPrediction('The table...'), 'the table');
    assert.equal(gqaPrediction(' left'), ' left');
  });
  it('synth: the official normaliser on both sides', () => {
    assert.ok(synthCorrect('Red.', 'red'));
    assert.ok(synthCorrect('two', '2'));
    assert.ok(synthCorrect('a circle', 'circle'));
    assert.ok(!synthCorrect('green', 'blue'));
  });
});

describe('POPE', () => {
  it("LLaVA's parsing: first sentence, commas dropped, No/not/no words", () => {
    assert.equal(parsePopeAnswer('Yes, there is a dog.'), 'yes');
    assert.equal(parsePopeAnswer('No'), 'no');
    assert.equal(parsePopeAnswer('There is no cat.'), 'no');
    assert.equal(parsePopeAnswer('I am not sure'), 'no');
    assert.equal(parsePopeAnswer('Yes. No dog.'), 'yes'); // only the first sentence
    assert.equal(parsePopeAnswer('No, '), 'no');
    assert.equal(parsePopeAnswer('NO'), 'yes'); // case-sensitive words, as the code
    assert.equal(parsePopeAnswer('Nope'), 'yes');
  });
  it('metrics, yes the positive class, yes-ratio of predictions', () => {
    const m = binaryMetrics([
      { predicted: 'yes', label: 'yes' },
      { predicted: 'no', label: 'yes' },
      { predicted: 'no', label: 'no' },
      { predicted: 'no', label: 'no' },
    ]);
    assert.deepEqual([m.accuracy, m.precision, m.recall, m.yesRatio], [0.75, 1, 0.5, 0.25]);
    assert.ok(Math.abs(m.f1 - 2 / 3) < 1e-12);
    assert.equal(binaryMetrics([{ predicted: 'no', label: 'no' }]).f1, 0);
  });
});

describe('MME', () => {
  it('exact yes/no, else within the first 4 characters, else other', () => {
    assert.equal(parseMmeAnswer('Yes'), 'yes');
    assert.equal(parseMmeAnswer('No, it is not'), 'no');
    assert.equal(parseMmeAnswer('Yes, there is'), 'yes');
    assert.equal(parseMmeAnswer('I think yes'), 'other');
    assert.equal(parseMmeAnswer('Maybe'), 'other');
    assert.equal(parseMmeAnswer('not'), 'no');
  });
  it('acc and acc+ per subtask; Perception and Cognition totals', () => {
    const s = mmeScores([
      { subtask: 'existence', image: 'a', correct: true },
      { subtask: 'existence', image: 'a', correct: true },
      { subtask: 'existence', image: 'b', correct: true },
      { subtask: 'existence', image: 'b', correct: false },
      { subtask: 'code_reasoning', image: 'c', correct: true },
      { subtask: 'code_reasoning', image: 'c', correct: false },
    ]);
    assert.equal(s.subtasks.existence!.score, 125);
    assert.equal(s.subtasks.code_reasoning!.score, 50);
    assert.equal(s.perception, 125);
    assert.equal(s.cognition, 50);
  });
});

describe('ScienceQA letters', () => {
  it("LLaVA's three forms, else FAILED", () => {
    assert.equal(parseScienceQaLetter('B'), 'B');
    assert.equal(parseScienceQaLetter('C. a tiger'), 'C');
    assert.equal(parseScienceQaLetter('The answer is A.'), 'A');
    assert.equal(parseScienceQaLetter('The answer is A, The answer is B.'), 'FAILED');
    assert.equal(parseScienceQaLetter('C.tiger'), 'FAILED');
    assert.equal(parseScienceQaLetter('b'), 'FAILED');
    assert.equal(parseScienceQaLetter('F'), 'FAILED');
  });
  it('a letter past the choices is wrong', () => {
    assert.equal(scienceQaChoice('E', 4), -1);
    assert.equal(scienceQaChoice('D', 4), 3);
  });
});

describe('ANLS', () => {
  it('Levenshtein', () => {
    assert.equal(levenshtein('total', 'none'), 4);
    assert.equal(levenshtein('', 'abc'), 3);
  });
  it('normalised strings, lengths of the strings as given, 0 below 0.5, best ground truth', () => {
    assert.equal(anls('1 May 2020', ['1 may 2020', 'May 1, 2020']), 1);
    assert.ok(Math.abs(anls('ACME Corp.', ['ACME Corp']) - 0.9) < 1e-12);
    assert.equal(anls('none', ['Total']), 0);
    // Whitespace collapses for the distance but counts in the length: 1 - 0 / 11.
    assert.equal(anls('  acme  corp', ['acme corp']), 1);
  });
});

describe('ChartQA relaxed accuracy', () => {
  it("Python's float()", () => {
    assert.equal(pythonFloat(' 12 '), 12);
    assert.equal(pythonFloat('1_000'), 1000);
    assert.equal(pythonFloat('1e3'), 1000);
    assert.equal(pythonFloat('.5'), 0.5);
    assert.equal(pythonFloat('5.'), 5);
    assert.equal(pythonFloat('1,000'), null);
    assert.equal(pythonFloat('12 apples'), null);
    assert.ok(Number.isNaN(pythonFloat('nan')));
  });
  it('5% of the target, "%" as /100, else case-insensitive equality', () => {
    assert.ok(relaxedCorrect('12.5', '12'));
    assert.ok(!relaxedCorrect('12.7', '12'));
    assert.ok(relaxedCorrect('0.26', '25%'));
    assert.ok(!relaxedCorrect('30%', '25%'));
    assert.ok(relaxedCorrect('apples', 'Apples'));
    assert.ok(relaxedCorrect('0', '0')); // a zero target falls back to string equality
    assert.ok(!relaxedCorrect('0.0', '0'));
  });
});
