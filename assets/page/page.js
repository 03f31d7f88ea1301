// The page at /: pick an image, ask, choose a method and its budget, watch the answer stream
// (OpenAI's server-sent chunks read off fetch's body), then see the report: kept image tokens per
// stage, FLOPs, timings, and the kept-patch picture (visdrop show's, rendered by the server) drawn
// on a canvas. Plain JavaScript, no build step.
const $ = (id) => document.getElementById(id);

/** The option each method's budget sets, with its default and what it means. */
const BUDGETS = {
  fastv: { key: 'fastv_r', value: '0.5', label: 'FastV R (share dropped)' },
  pdrop: { key: 'pdrop_lambda', value: '0.5', label: 'PyramidDrop lambda (kept per stage)' },
  mustdrop: { key: 'mustdrop_budget', value: '192', label: 'MustDrop budget (192, 128, 64)' },
};
/** A method's budget: its own, or for the MustDrop-vision combinations MustDrop's (it sets the merge). */
const budgetFor = (method) => BUDGETS[method] ?? (method.startsWith('mustdrop') ? BUDGETS.mustdrop : null);

let modelId = null;
let imageUrl = null;

function headers() {
  const key = $('api-key').value.trim();
  return { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

async function loadModels() {
  try {
    const response = await fetch('/v1/models', { headers: headers() });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
    const model = body.data[0];
    modelId = model.id;
    $('model').textContent = `model: ${model.id}`;
    $('method').replaceChildren(...model.visdrop.strategies.map((name) => new Option(name, name)));
    $('method').value = model.visdrop.strategies.includes('pdrop') ? 'pdrop' : model.visdrop.strategies[0];
    showBudget();
  } catch (error) {
    $('model').textContent = `model list: ${error.message} (an API key may be needed)`;
  }
}

function showBudget() {
  const budget = budgetFor($('method').value);
  $('budget-label').hidden = budget === null;
  if (budget) {
    $('budget-label').firstChild.textContent = budget.label;
    $('budget').value = budget.value;
  }
}

function readImage(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function visdropOptions() {
  const method = $('method').value;
  const options = { reduce: method, picture: method !== 'none' };
  const budget = budgetFor(method);
  if (budget && $('budget').value.trim() !== '') options[budget.key] = Number($('budget').value);
  const extra = $('extra').value.trim();
  if (extra) Object.assign(options, JSON.parse(extra));
  return options;
}

/** Yields each `data:` payload of a server-sent event stream. */
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) if (line.startsWith('data: ')) yield line.slice(6);
    }
  }
}

function showReport(report, usage) {
  $('report').hidden = false;
  $('strategy').textContent = report.strategy;
  const stages = report.stages.map((s) => `${s.kept_image_tokens} ${s.where === 'vision' ? 'from the vision tower' : `after layer ${s.after_layer}`}`);
  $('counts').textContent = report.image_tokens === null ? 'no image' : [`${report.image_tokens} in`, ...stages].join(' → ');
  $('flops').textContent = report.flops_ratio === null ? 'n/a' : `${(100 * report.flops_ratio).toFixed(1)}% of keeping every image token`;
  const t = report.timings;
  $('timings').textContent = `queue ${t.queue_ms.toFixed(0)} ms · vision ${t.vision_ms.toFixed(0)} ms · prefill ${t.prefill_ms.toFixed(0)} ms · decode ${t.decode_ms_per_token.toFixed(1)} ms/token`;
  $('usage').textContent = usage ? `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion` : '';
}

async function drawPicture(dataUrl) {
  const canvas = $('patches');
  if (!dataUrl) {
    canvas.width = canvas.height = 0;
    delete canvas.dataset.drawn;
    return;
  }
  const picture = new Image();
  picture.src = dataUrl;
  await picture.decode();
  canvas.width = picture.naturalWidth;
  canvas.height = picture.naturalHeight;
  canvas.getContext('2d').drawImage(picture, 0, 0);
  canvas.dataset.drawn = 'true';
}

async function ask(event) {
  event.preventDefault();
  if (!imageUrl) return setStatus('pick an image first', true);
  $('ask').disabled = true;
  $('answer').textContent = '';
  $('report').hidden = true;
  await drawPicture(null);
  setStatus('waiting for the model...');
  try {
    const response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({
        model: modelId,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: Number($('max-tokens').value),
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: imageUrl } }, { type: 'text', text: $('prompt').value }] }],
        visdrop: visdropOptions(),
      }),
    });
    if (!response.ok) throw new Error((await response.json()).error?.message ?? response.statusText);
    setStatus('streaming...');
    let report = null;
    let usage = null;
    for await (const data of events(response.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices[0];
      if (choice?.delta?.content) $('answer').textContent += choice.delta.content;
      if (chunk.visdrop) report = chunk.visdrop;
      if (chunk.usage) usage = chunk.usage;
    }
    if (report) {
      showReport(report, usage);
      await drawPicture(report.picture);
    }
    setStatus('done');
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    $('ask').disabled = false;
  }
}

$('image').addEventListener('change', async () => {
  const file = $('image').files[0];
  if (!file) return;
  imageUrl = await readImage(file);
  $('preview').src = imageUrl;
  $('preview').hidden = false;
});
$('method').addEventListener('change', showBudget);
$('api-key').addEventListener('change', loadModels);
$('ask-form').addEventListener('submit', ask);
loadModels();
