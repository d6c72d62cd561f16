<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja_JP">
<context>
    <name>PlotExport</name>
    <message>
        <source>%1 [%2]</source>
        <translation>%1 [%2]</translation>
    </message>
    <message>
        <source>PNG image (*.png)</source>
        <translation>PNG 画像 (*.png)</translation>
    </message>
    <message>
        <source>SVG vector image (*.svg)</source>
        <translation>SVG ベクター画像 (*.svg)</translation>
    </message>
    <message>
        <source>PDF document (*.pdf)</source>
        <translation>PDF 文書 (*.pdf)</translation>
    </message>
    <message>
        <source>CSV table (*.csv)</source>
        <translation>CSV 表 (*.csv)</translation>
    </message>
    <message>
        <source>Cannot write “%1”: %2</source>
        <translation>「%1」を書き込めません: %2</translation>
    </message>
    <message>
        <source>Cannot render the figure for “%1”.</source>
        <translation>「%1」の図を描画できません。</translation>
    </message>
    <message>
        <source>Cannot export to “%1”: use a .png, .svg, .pdf or .csv file name.</source>
        <translation>「%1」には書き出せません: .png、.svg、.pdf、.csv のファイル名を指定してください。</translation>
    </message>
    <message>
        <source>Save as &amp;PNG…</source>
        <translation>PNG で保存(&amp;P)…</translation>
    </message>
    <message>
        <source>Save as &amp;SVG…</source>
        <translation>SVG で保存(&amp;S)…</translation>
    </message>
    <message>
        <source>Save as P&amp;DF…</source>
        <translation>PDF で保存(&amp;D)…</translation>
    </message>
    <message>
        <source>Save &amp;data as CSV…</source>
        <translation>データを CSV で保存(&amp;D)…</translation>
    </message>
    <message>
        <source>&amp;Copy image</source>
        <translation>画像をコピー(&amp;C)</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>書き出し</translation>
    </message>
    <message>
        <source>Save this plot as PNG, SVG or PDF, its data as CSV, or copy it</source>
        <translation>このプロットを PNG・SVG・PDF で保存、データを CSV で保存、またはコピーします</translation>
    </message>
    <message>
        <source>Export Plot</source>
        <translation>プロットの書き出し</translation>
    </message>
    <message>
        <source>Export Failed</source>
        <translation>書き出しに失敗しました</translation>
    </message>
    <message>
        <source>Cannot render the view for “%1”.</source>
        <translation>「%1」のビューを描画できません。</translation>
    </message>
</context>
<context>
    <name>PlotStyle</name>
    <message>
        <source>L%1 %2</source>
        <translation>L%1 %2</translation>
    </message>
    <message>
        <source>n/a</source>
        <translation>該当なし</translation>
    </message>
    <message>
        <source>L%1</source>
        <translation>L%1</translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Model directory or .bin file</source>
        <translation>モデルのディレクトリまたは .bin ファイル</translation>
    </message>
    <message>
        <source>Language of this session: en, ja or system (default: the one chosen in Preferences)</source>
        <translation>このセッションの言語: en、ja または system（既定: 設定で選んだ言語）</translation>
    </message>
</context>
<context>
    <name>rs::ui::BudgetView</name>
    <message>
        <source>The compensation whose error-vs-rank curves the plan minimises and Apply Plan runs: any of the experiment&apos;s compensations that fit factors</source>
        <translation>プランが最小化する誤差対ランク曲線の補償手法で、「プランを適用」が実行するもの: 実験の補償手法のうち因子を当てはめるもののいずれか</translation>
    </message>
    <message>
        <source>Curves:</source>
        <translation>曲線:</translation>
    </message>
    <message>
        <source>Both predicted from the error curves of %1.</source>
        <translation>どちらも %1 の誤差曲線からの予測です。</translation>
    </message>
    <message>
        <source>Reset Edits</source>
        <translation>編集を元に戻す</translation>
    </message>
    <message>
        <source>Apply Plan</source>
        <translation>プランを適用</translation>
    </message>
    <message>
        <source>A budget of %1 is below the smallest plan, %2 (every layer at its lowest rank): planned for that.</source>
        <translation>予算 %1 は最小のプラン %2（全レイヤーが最低ランク）を下回るため、その予算で計画しました。</translation>
    </message>
    <message>
        <source>Discard Rank Edits?</source>
        <translation>ランクの編集を破棄しますか？</translation>
    </message>
    <message>
        <source>Planning for a new budget replaces the ranks you edited in the table.</source>
        <translation>新しい予算で計画すると、表で編集したランクは置き換えられます。</translation>
    </message>
    <message>
        <source>Discard Edits</source>
        <translation>編集を破棄</translation>
    </message>
    <message>
        <source>Keep Edits</source>
        <translation>編集を保持</translation>
    </message>
    <message>
        <source>Another job is running: apply the plan when it has finished</source>
        <translation>別のジョブが実行中です。終了してからプランを適用してください</translation>
    </message>
    <message>
        <source>The edited plan uses %1 parameters, %2 over the budget of %3.</source>
        <translation>編集したプランは %1 パラメータを使い、予算 %3 を %2 超えています。</translation>
    </message>
    <message>
        <source>Adapter parameters</source>
        <translation>アダプタのパラメータ数</translation>
    </message>
    <message>
        <source>% of model parameters</source>
        <translation>モデルのパラメータに対する %</translation>
    </message>
    <message>
        <source>Bits per weight (incl. adapter)</source>
        <translation>重みあたりのビット数(アダプタ込み)</translation>
    </message>
    <message>
        <source>Adapter parameters: sum of r (d_out + d_in). Bits per weight: (b d_out d_in + group overhead + 16 r (d_out + d_in)) / (d_out d_in), over the compressed layers.</source>
        <translation>アダプタのパラメータ数: r (d_out + d_in) の総和。重みあたりのビット数: 圧縮した層全体での (b d_out d_in + グループのオーバーヘッド + 16 r (d_out + d_in)) / (d_out d_in)。</translation>
    </message>
    <message>
        <source>Relative to each layer&apos;s output</source>
        <translation>各層の出力に対する相対誤差</translation>
    </message>
    <message>
        <source>Absolute output error</source>
        <translation>出力の絶対誤差</translation>
    </message>
    <message>
        <source>any rank</source>
        <translation>任意のランク</translation>
    </message>
    <message>
        <source>multiples of %1</source>
        <translation>%1 の倍数</translation>
    </message>
    <message>
        <source>Drag to change the global budget; both plans follow live</source>
        <translation>ドラッグで全体の予算を変更します。両方のプランがその場で追従します</translation>
    </message>
    <message>
        <source>Compensate with this plan and evaluate it as a new experiment</source>
        <translation>このプランで補償し、新しい実験として評価します</translation>
    </message>
    <message>
        <source>Budget:</source>
        <translation>予算:</translation>
    </message>
    <message>
        <source>Weights:</source>
        <translation>重み付け:</translation>
    </message>
    <message>
        <source>Ranks:</source>
        <translation>ランク:</translation>
    </message>
    <message>
        <source>Open an experiment with error curves to plan its rank budget.</source>
        <translation>ランク予算を計画するには、誤差曲線のある実験を開いてください。</translation>
    </message>
    <message>
        <source> params</source>
        <translation> パラメータ</translation>
    </message>
    <message>
        <source>Edited plan</source>
        <translation>編集したプラン</translation>
    </message>
    <message>
        <source>Budget-optimal plan</source>
        <translation>予算内の最適プラン</translation>
    </message>
    <message>
        <source> %</source>
        <translation> %</translation>
    </message>
    <message>
        <source> bpw</source>
        <translation> bpw</translation>
    </message>
    <message>
        <source>Measured sensitivity (perplexity)</source>
        <translation>測定した感度(パープレキシティ)</translation>
    </message>
    <message>
        <source>Layer weights of the objective: each layer&apos;s error relative to its output energy tr(W C Wᵀ), the absolute errors, or the perplexity increase measured when only that layer is compressed (measured once per experiment, then kept in the store; on stories260K the only weighting whose plans beat uniform ranks in perplexity)</source>
        <translation>目的関数の層の重み: 各層の誤差を出力エネルギー tr(W C Wᵀ) で割るか、絶対誤差をそのまま使うか、その層だけを圧縮したときに測ったパープレキシティの増加を使います(実験ごとに一度だけ測ってストアに保存します。stories260K では、パープレキシティで一様ランクを上回るプランを出すのはこの重み付けだけです)</translation>
    </message>
    <message>
        <source>No measured sensitivities: %1</source>
        <translation>測定した感度がありません: %1</translation>
    </message>
    <message>
        <source>Measuring layer sensitivities…</source>
        <translation>層の感度を測定しています…</translation>
    </message>
    <message>
        <source>mean relative output error</source>
        <translation>平均相対出力誤差</translation>
    </message>
    <message>
        <source>error left</source>
        <translation>残る誤差</translation>
    </message>
    <message>
        <source>predicted perplexity increase</source>
        <translation>予測パープレキシティ増加</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>%1 params</source>
        <translation>%1 パラメータ</translation>
    </message>
    <message>
        <source> (%1 % against uniform)</source>
        <translation>（一様比 %1 %）</translation>
    </message>
    <message>
        <source>size</source>
        <translation>サイズ</translation>
    </message>
    <message>
        <source>(what the plan minimises)</source>
        <translation>（プランが最小化する量）</translation>
    </message>
    <message>
        <source>Uniform rank %1</source>
        <translation>一様ランク %1</translation>
    </message>
    <message>
        <source>%1 % of model · %2 bpw</source>
        <translation>モデルの %1 % · %2 bpw</translation>
    </message>
</context>
<context>
    <name>rs::ui::CompareDialog</name>
    <message>
        <source>Setting</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Variant</source>
        <translation>バリアント</translation>
    </message>
    <message>
        <source>Error curves of layer:</source>
        <translation>誤差曲線を表示する層:</translation>
    </message>
    <message>
        <source>rank r</source>
        <translation>ランク r</translation>
    </message>
    <message>
        <source>relative output error E(r) / tr(W C Wᵀ)</source>
        <translation>相対出力誤差 E(r) / tr(W C Wᵀ)</translation>
    </message>
    <message>
        <source>Only settings that differ</source>
        <translation>異なる設定のみ</translation>
    </message>
    <message>
        <source>Compare experiments %1</source>
        <translation>実験 %1 の比較</translation>
    </message>
    <message>
        <source>Experiment %1</source>
        <translation>実験 %1</translation>
    </message>
    <message>
        <source>Changes are each experiment&apos;s value minus the baseline&apos;s</source>
        <translation>変化量は各実験の値からベースラインの値を引いたものです</translation>
    </message>
    <message>
        <source>Baseline:</source>
        <translation>ベースライン:</translation>
    </message>
    <message>
        <source>&lt;b&gt;Settings&lt;/b&gt; (✱ marks those that differ)</source>
        <translation>&lt;b&gt;設定&lt;/b&gt;（✱ は異なる設定）</translation>
    </message>
    <message>
        <source>&lt;b&gt;Cost&lt;/b&gt;: stage times and cached statistics</source>
        <translation>&lt;b&gt;コスト&lt;/b&gt;: ステージ時間とキャッシュされた統計</translation>
    </message>
    <message>
        <source>&lt;b&gt;Results&lt;/b&gt;: Δ is the experiment&apos;s perplexity minus the baseline&apos;s; negative (green) is better</source>
        <translation>&lt;b&gt;結果&lt;/b&gt;: Δ は実験のパープレキシティからベースラインの値を引いたもの。負（緑）ほど良い</translation>
    </message>
    <message>
        <source>Experiment %1 (baseline)</source>
        <translation>実験 %1（ベースライン）</translation>
    </message>
    <message>
        <source>Cost</source>
        <translation>コスト</translation>
    </message>
    <message>
        <source>PPL %1 (baseline)</source>
        <translation>PPL %1（ベースライン）</translation>
    </message>
    <message>
        <source>PPL %1</source>
        <translation>PPL %1</translation>
    </message>
    <message>
        <source>Δ PPL %1</source>
        <translation>Δ PPL %1</translation>
    </message>
    <message>
        <source>Mean error %1</source>
        <translation>平均誤差 %1</translation>
    </message>
    <message>
        <source>%1: EoRA</source>
        <translation>%1: EoRA</translation>
    </message>
    <message>
        <source>%1: SVD</source>
        <translation>%1: SVD</translation>
    </message>
    <message>
        <source>name</source>
        <translation>名前</translation>
    </message>
    <message>
        <source>status</source>
        <translation>状態</translation>
    </message>
    <message>
        <source>model</source>
        <translation>モデル</translation>
    </message>
    <message>
        <source>calibration text</source>
        <translation>キャリブレーションテキスト</translation>
    </message>
    <message>
        <source>calibration mode</source>
        <translation>キャリブレーションモード</translation>
    </message>
    <message>
        <source>calibration tokens</source>
        <translation>キャリブレーショントークン数</translation>
    </message>
    <message>
        <source>compression</source>
        <translation>圧縮</translation>
    </message>
    <message>
        <source>compensation</source>
        <translation>補償</translation>
    </message>
    <message>
        <source>ranks</source>
        <translation>ランク</translation>
    </message>
    <message>
        <source>evaluation text</source>
        <translation>評価テキスト</translation>
    </message>
    <message>
        <source>statistics</source>
        <translation>統計</translation>
    </message>
    <message>
        <source>calibrate time</source>
        <translation>キャリブレーション時間</translation>
    </message>
    <message>
        <source>compress time</source>
        <translation>圧縮時間</translation>
    </message>
    <message>
        <source>evaluate time</source>
        <translation>評価時間</translation>
    </message>
</context>
<context>
    <name>rs::ui::CurveView</name>
    <message>
        <source>n/a</source>
        <translation>該当なし</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>Log scale</source>
        <translation>対数軸</translation>
    </message>
    <message>
        <source>E(r) / tr(dW C dWᵀ): 1 at rank 0, 0 when the whole error is compensated</source>
        <translation>E(r) / tr(dW C dWᵀ): ランク 0 で 1、誤差をすべて補償すると 0</translation>
    </message>
    <message>
        <source>E(r) / tr(W C Wᵀ): the output error relative to the layer&apos;s output energy on calibration inputs</source>
        <translation>E(r) / tr(W C Wᵀ): キャリブレーション入力での層の出力エネルギーに対する出力誤差</translation>
    </message>
    <message>
        <source>Logarithmic error axis (ranks with zero error are not drawn)</source>
        <translation>誤差軸を対数にする(誤差が 0 のランクは描画しません)</translation>
    </message>
    <message>
        <source>Normalisation:</source>
        <translation>正規化:</translation>
    </message>
    <message>
        <source>Values at the rank under the mouse</source>
        <translation>マウス位置のランクでの値</translation>
    </message>
    <message>
        <source>Sum over layers of E_l(r_l) at each layer&apos;s current rank, divided by the sum of the normalisers</source>
        <translation>各層の現在のランクでの E_l(r_l) の総和を、正規化値の総和で割ったもの</translation>
    </message>
    <message>
        <source>rank r of the compensation</source>
        <translation>補償のランク r</translation>
    </message>
    <message>
        <source>E_eora(r): EoRA (optimal)</source>
        <translation>E_eora(r): EoRA(最適)</translation>
    </message>
    <message>
        <source>E_svd(r): plain SVD</source>
        <translation>E_svd(r): 通常の SVD</translation>
    </message>
    <message>
        <source>Fraction of compression error left</source>
        <translation>残る圧縮誤差の割合</translation>
    </message>
    <message>
        <source>Relative output error</source>
        <translation>相対出力誤差</translation>
    </message>
    <message>
        <source>No experiment loaded</source>
        <translation>実験が読み込まれていません</translation>
    </message>
    <message>
        <source>Run a compression with analysis, or open an experiment, to see how its error falls with the rank.</source>
        <translation>解析付きで圧縮を実行するか実験を開くと、ランクに応じて誤差がどう下がるかを表示します。</translation>
    </message>
    <message>
        <source>No layer analysis stored</source>
        <translation>層の解析が保存されていません</translation>
    </message>
    <message>
        <source>current plan</source>
        <translation>現在のプラン</translation>
    </message>
    <message>
        <source>fraction of compression error left  E(r) / tr(dW C dWᵀ)</source>
        <translation>残る圧縮誤差の割合  E(r) / tr(dW C dWᵀ)</translation>
    </message>
    <message>
        <source>relative output error  E(r) / tr(W C Wᵀ)</source>
        <translation>相対出力誤差  E(r) / tr(W C Wᵀ)</translation>
    </message>
    <message>
        <source>Error vs rank of %1 (%2 × %3)</source>
        <translation>%1 のランク別誤差 (%2 × %3)</translation>
    </message>
    <message>
        <source>Move the mouse over the plot for values; double-click to pick a rank.</source>
        <translation>プロット上にマウスを置くと値を表示します。ダブルクリックでランクを選びます。</translation>
    </message>
    <message>
        <source>r = %1 (%2)</source>
        <translation>r = %1 (%2)</translation>
    </message>
    <message>
        <source>&lt;b&gt;Chosen rank (%1)&lt;/b&gt; %2</source>
        <translation>&lt;b&gt;選択したランク (%1)&lt;/b&gt; %2</translation>
    </message>
    <message>
        <source>&lt;i&gt;No ranks chosen: pick a variant or a rank plan to see the predicted model total.&lt;/i&gt;</source>
        <translation>&lt;i&gt;ランクが選ばれていません: バリアントかランクプランを選ぶと、モデル全体の予測値を表示します。&lt;/i&gt;</translation>
    </message>
    <message>
        <source>%1 of compression error left, %2 relative output error</source>
        <translation>残る圧縮誤差 %1、相対出力誤差 %2</translation>
    </message>
    <message>
        <source>E_opt(r): data-aware optimum (LoRD)</source>
        <translation>E_opt(r): データを考慮した最適解(LoRD)</translation>
    </message>
    <message>
        <source>E_svd(r): weight SVD (LoRD)</source>
        <translation>E_svd(r): 重みの SVD(LoRD)</translation>
    </message>
    <message>
        <source>rank r of the factors</source>
        <translation>因子のランク r</translation>
    </message>
    <message>
        <source>weight SVD</source>
        <translation>重みの SVD</translation>
    </message>
    <message>
        <source>SVD</source>
        <translation>SVD</translation>
    </message>
    <message>
        <source>data-aware</source>
        <translation>データ考慮</translation>
    </message>
    <message>
        <source>EoRA</source>
        <translation>EoRA</translation>
    </message>
    <message>
        <source>r = %1: %2 %3 · %4 %5 · gap %6 (%4 lower by %7 of the %2 error)</source>
        <translation>r = %1: %2 %3 · %4 %5 · 差 %6(%4 は %2 の誤差より %7 低い)</translation>
    </message>
    <message>
        <source>%1 relative output error</source>
        <translation>相対出力誤差 %1</translation>
    </message>
    <message numerus="yes">
        <source>&lt;b&gt;Predicted model total&lt;/b&gt; at the ranks of %1 (%n layer(s), %2 adapter parameters):&lt;br&gt;%5: %3&lt;br&gt;%6: %4</source>
        <translation>
            <numerusform>&lt;b&gt;モデル全体の予測値&lt;/b&gt;(%1 のランク、%n 層、アダプタのパラメータ %2):&lt;br&gt;%5: %3&lt;br&gt;%6: %4</numerusform>
        </translation>
    </message>
    <message>
        <source>This experiment was run without layer analysis. The layers selected in the layer table (all when none is) can be analysed now from its saved calibration statistics.</source>
        <translation>この実験は層の解析なしで実行されました。層の表で選択した層(選択がなければすべて)を、保存されたキャリブレーション統計から今すぐ解析できます。</translation>
    </message>
    <message>
        <source>Analyse the selected layers</source>
        <translation>選択した層を解析</translation>
    </message>
    <message>
        <source>%1 · %2</source>
        <translation>%1 · %2</translation>
    </message>
    <message numerus="yes">
        <source>Error vs rank of %n layer(s); values for %1</source>
        <translation>
            <numerusform>%n 層の誤差対ランク（値は %1）</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>rs::ui::DistillationView</name>
    <message>
        <source>Variant:</source>
        <translation>バリアント:</translation>
    </message>
    <message>
        <source>Log scale</source>
        <translation>対数軸</translation>
    </message>
    <message>
        <source>The rank allocation whose distillation is shown</source>
        <translation>蒸留を表示するランク配分</translation>
    </message>
    <message>
        <source>One decoder block with its training loss, or the checked losses of every block</source>
        <translation>1 つのデコーダーブロックの学習損失、または全ブロックの検証損失</translation>
    </message>
    <message>
        <source>Logarithmic loss axis</source>
        <translation>損失を対数軸で表示</translation>
    </message>
    <message>
        <source>Block:</source>
        <translation>ブロック:</translation>
    </message>
    <message>
        <source>optimiser step</source>
        <translation>最適化ステップ</translation>
    </message>
    <message>
        <source>local loss  mean|h_s − h_t| − log σ(cos(h_s, h_t))</source>
        <translation>局所損失  mean|h_s − h_t| − log σ(cos(h_s, h_t))</translation>
    </message>
    <message>
        <source>No distillation recorded</source>
        <translation>蒸留の記録がありません</translation>
    </message>
    <message>
        <source>variant %1</source>
        <translation>バリアント %1</translation>
    </message>
    <message>
        <source>All blocks</source>
        <translation>全ブロック</translation>
    </message>
    <message>
        <source>Block %1</source>
        <translation>ブロック %1</translation>
    </message>
    <message>
        <source>Block %1 · %2</source>
        <translation>ブロック %1 · %2</translation>
    </message>
    <message>
        <source>training loss (each step&apos;s batch)</source>
        <translation>学習損失(各ステップのバッチ)</translation>
    </message>
    <message>
        <source>checked loss (step 0: SVD initialisation)</source>
        <translation>検証損失(ステップ 0: SVD 初期値)</translation>
    </message>
    <message>
        <source>kept: step %1</source>
        <translation>採用: ステップ %1</translation>
    </message>
    <message>
        <source>Block %1: %2 optimiser steps in %3 s; the weights of step %4 were kept</source>
        <translation>ブロック %1: %3 秒で %2 回の最適化ステップ。ステップ %4 の重みを採用</translation>
    </message>
    <message>
        <source> (checked loss %1 at the SVD initialisation, %2 kept: %3 % lower).</source>
        <translation>(検証損失は SVD 初期値で %1、採用時 %2: %3 % 低下)。</translation>
    </message>
    <message>
        <source>Checked loss of every block · %1</source>
        <translation>全ブロックの検証損失 · %1</translation>
    </message>
    <message>
        <source>block %1</source>
        <translation>ブロック %1</translation>
    </message>
    <message>
        <source>Blocks distilled: %1, in %2 s.</source>
        <translation>蒸留したブロック: %1 個、%2 秒。</translation>
    </message>
    <message>
        <source>The kept weights lower the checked loss of the SVD initialisation by %1 % on average.</source>
        <translation>採用した重みは SVD 初期値の検証損失を平均 %1 % 下げます。</translation>
    </message>
    <message>
        <source>Lillama runs record each decoder block&apos;s local distillation losses here. Run one from the run panel (job: low-rank replacement, method: Lillama) or with rankscope-cli lowrank MODEL --method lillama, then open it in the Experiments tab.</source>
        <translation>Lillama の実行では各デコーダーブロックの局所蒸留損失がここに記録されます。実行パネル(ジョブ: 低ランク置換、手法: Lillama)または rankscope-cli lowrank MODEL --method lillama で実行し、実験タブで開いてください。</translation>
    </message>
</context>
<context>
    <name>rs::ui::ExperimentModel</name>
    <message>
        <source>running</source>
        <translation>実行中</translation>
    </message>
    <message>
        <source>done</source>
        <translation>完了</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失敗</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>キャンセル</translation>
    </message>
    <message>
        <source>interrupted</source>
        <translation>中断</translation>
    </message>
    <message>
        <source>Lowest perplexity over the experiment&apos;s variants</source>
        <translation>実験のバリアントの中で最も低いパープレキシティ</translation>
    </message>
    <message>
        <source>ID</source>
        <translation>ID</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名前</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状態</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>作成日時</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>モデル</translation>
    </message>
    <message>
        <source>Compression</source>
        <translation>圧縮</translation>
    </message>
    <message>
        <source>Compensation</source>
        <translation>補償</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>ランク</translation>
    </message>
    <message>
        <source>Best PPL</source>
        <translation>最良 PPL</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>層</translation>
    </message>
    <message>
        <source>Tick the experiments to compare</source>
        <translation>比較する実験にチェックを入れます</translation>
    </message>
</context>
<context>
    <name>rs::ui::ExperimentsView</name>
    <message>
        <source>Open</source>
        <translation>開く</translation>
    </message>
    <message>
        <source>Compare</source>
        <translation>比較</translation>
    </message>
    <message>
        <source>Rename / Notes…</source>
        <translation>名前とメモ…</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>削除…</translation>
    </message>
    <message>
        <source>Filter by name, model, method, status…</source>
        <translation>名前・モデル・手法・状態で絞り込み…</translation>
    </message>
    <message>
        <source>Show the experiment&apos;s spectra, curves and ranks</source>
        <translation>実験のスペクトル、曲線、ランクを表示します</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>再読み込み</translation>
    </message>
    <message>
        <source>No experiments yet: run a compression to record one.</source>
        <translation>まだ実験がありません。圧縮を実行すると記録されます。</translation>
    </message>
    <message numerus="yes">
        <source>%n experiment(s) in %1</source>
        <translation>
            <numerusform>%1 に %n 件の実験</numerusform>
        </translation>
    </message>
    <message>
        <source>No experiment %1 in the store.</source>
        <translation>ストアに実験 %1 はありません。</translation>
    </message>
    <message>
        <source>Experiment %1</source>
        <translation>実験 %1</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名前:</translation>
    </message>
    <message>
        <source>Notes:</source>
        <translation>メモ:</translation>
    </message>
    <message>
        <source>Delete Experiments</source>
        <translation>実験の削除</translation>
    </message>
    <message numerus="yes">
        <source>Delete %n experiment(s) (%1) with their layers and evaluations? This cannot be undone.</source>
        <translation>
            <numerusform>%n 件の実験 (%1) を層と評価ごと削除しますか? 元に戻せません。</numerusform>
        </translation>
    </message>
    <message>
        <source>Use Settings</source>
        <translation>設定を使う</translation>
    </message>
    <message>
        <source>Put the experiment&apos;s settings (job, texts, methods, ranks) into the run panel, to run it again or vary it</source>
        <translation>実験の設定(ジョブ、テキスト、手法、ランク)を実行パネルに読み込み、再実行や変更に使います</translation>
    </message>
    <message>
        <source>Tick (or select) two or more experiments to compare their settings, costs and metrics</source>
        <translation>2 つ以上の実験にチェックを入れる（または選択する）と、設定・コスト・指標を比較します</translation>
    </message>
    <message numerus="yes">
        <source>Compare (%n)</source>
        <translation>
            <numerusform>比較 (%n)</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>rs::ui::ExportDialog</name>
    <message>
        <source>Replace an earlier export in that folder</source>
        <translation>そのフォルダにある以前の書き出しを置き換える</translation>
    </message>
    <message>
        <source>Export Checkpoint of Experiment %1</source>
        <translation>実験 %1 のチェックポイントを書き出す</translation>
    </message>
    <message>
        <source>GPTQ base + PEFT LoRA adapter</source>
        <translation>GPTQ ベース + PEFT LoRA アダプタ</translation>
    </message>
    <message>
        <source>Merged dense weights (W_c + B A)</source>
        <translation>統合した密な重み (W_c + B A)</translation>
    </message>
    <message>
        <source>Factorized (two linears per layer)</source>
        <translation>因子分解(層ごとに 2 つの線形層)</translation>
    </message>
    <message>
        <source>GGUF base + GGUF LoRA adapter (llama.cpp)</source>
        <translation>GGUF ベース + GGUF LoRA アダプタ (llama.cpp)</translation>
    </message>
    <message>
        <source>model.gguf for llama.cpp, Ollama and LM Studio, with the compensation as adapter.gguf (--lora). Layers compressed with q8_0 or q4_0 are stored in those llama.cpp types, bit for bit; others in float32 or float16.</source>
        <translation>llama.cpp、Ollama、LM Studio 向けの model.gguf と、補償を収めた adapter.gguf (--lora)。q8_0 または q4_0 で圧縮した層は llama.cpp のその型でビット単位まで同じに保存し、それ以外は float32 または float16 で保存します。</translation>
    </message>
    <message>
        <source>as the source model</source>
        <translation>元のモデルと同じ</translation>
    </message>
    <message>
        <source>A new folder for the checkpoint</source>
        <translation>チェックポイント用の新しいフォルダ</translation>
    </message>
    <message>
        <source>Export Folder</source>
        <translation>書き出し先フォルダ</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>書き出し</translation>
    </message>
    <message>
        <source>Format:</source>
        <translation>形式:</translation>
    </message>
    <message>
        <source>Variant:</source>
        <translation>バリアント:</translation>
    </message>
    <message>
        <source>Dtype:</source>
        <translation>データ型:</translation>
    </message>
    <message>
        <source>Folder:</source>
        <translation>フォルダ:</translation>
    </message>
    <message>
        <source>The quantized base in the GPTQ v1 format with the compensation as a PEFT LoRA adapter (every scale 1). Layers the format cannot hold stay dense and are listed in the quantization config. vLLM runs 4- and 8-bit grids compressed with sym=true on its fast Marlin kernel, others on its slower GPTQ kernel.</source>
        <translation>量子化したベースを GPTQ v1 形式で、補償を PEFT LoRA アダプタ(スケールはすべて 1)として書き出します。この形式で保持できない層は密のまま残し、量子化設定に記載します。vLLM は sym=true で圧縮した 4 ビット・8 ビットのグリッドを高速な Marlin カーネルで、それ以外を低速な GPTQ カーネルで実行します。</translation>
    </message>
    <message>
        <source>Dense W_c + B A in the original layout: loads in any Hugging Face-compatible runtime.</source>
        <translation>元の配置のままの密な W_c + B A。Hugging Face 互換のどのランタイムでも読み込めます。</translation>
    </message>
    <message>
        <source>Each compensated layer as its base and two factors (low_rank.0 = A, low_rank.1 = B); the ranks are listed in config.json.</source>
        <translation>補償した各層をベースと 2 つの因子(low_rank.0 = A、low_rank.1 = B)として書き出します。ランクは config.json に記載します。</translation>
    </message>
    <message>
        <source>This experiment has no compensated variant to export.</source>
        <translation>この実験には書き出せる補償済みのバリアントがありません。</translation>
    </message>
    <message>
        <source>Choose the folder to write.</source>
        <translation>書き出し先のフォルダを選んでください。</translation>
    </message>
    <message>
        <source>GGUF stores float32 or float16 tensors, not bfloat16.</source>
        <translation>GGUF は float32 または float16 のテンソルを保存します。bfloat16 は使えません。</translation>
    </message>
    <message>
        <source> — perplexity %1</source>
        <translation> — パープレキシティ %1</translation>
    </message>
    <message>
        <source>, %1 adapter params</source>
        <translation>、アダプタ %1 パラメータ</translation>
    </message>
    <message>
        <source>%1 of %2 linears stay dense in GPTQ format (%3: %4), so this export may be larger than the original model. Merged or GGUF exports keep every layer compact.</source>
        <translation>GPTQ 形式では %2 個の線形層のうち %1 個が密のまま残ります（%3: %4）。このエクスポートは元のモデルより大きくなる可能性があります。マージ済みまたは GGUF のエクスポートではすべての層がコンパクトになります。</translation>
    </message>
</context>
<context>
    <name>rs::ui::JobRunner</name>
    <message>
        <source>unknown error</source>
        <translation>不明なエラー</translation>
    </message>
</context>
<context>
    <name>rs::ui::LayerMetricsView</name>
    <message>
        <source>stable rank (right axis)</source>
        <translation>安定ランク（右軸）</translation>
    </message>
    <message>
        <source>α, power-law exponent of the spectrum</source>
        <translation>α（スペクトルのべき乗則指数）</translation>
    </message>
    <message>
        <source>α</source>
        <translation>α</translation>
    </message>
    <message>
        <source>stable rank ‖W‖_F² / ‖W‖₂²</source>
        <translation>安定ランク ‖W‖_F² / ‖W‖₂²</translation>
    </message>
    <message>
        <source>Alpha about 2 to 6 marks well-trained layers; larger is closer to random. A low stable rank compresses well.</source>
        <translation>α が約 2〜6 の層はよく学習されています。大きいほどランダムに近くなります。安定ランクが低い層はよく圧縮できます。</translation>
    </message>
    <message>
        <source>No weight spectra</source>
        <translation>重みのスペクトルがありません</translation>
    </message>
    <message>
        <source>Open an experiment run with layer analysis to see the spectral metrics of its weights.</source>
        <translation>層の解析付きで実行した実験を開くと、重みのスペクトル指標が表示されます。</translation>
    </message>
    <message>
        <source>This experiment was run without layer analysis: analyse its layers from the Spectra page.</source>
        <translation>この実験は層の解析なしで実行されました。スペクトルのページから層を解析してください。</translation>
    </message>
    <message>
        <source>%1
α %2 (fitted to the largest %3 eigenvalues) · stable rank %4 · ‖W‖₂ %5</source>
        <translation>%1
α %2（最大の %3 個の固有値に当てはめ）· 安定ランク %4 · ‖W‖₂ %5</translation>
    </message>
    <message>
        <source>not fitted</source>
        <translation>当てはめなし</translation>
    </message>
</context>
<context>
    <name>rs::ui::LayerTableModel</name>
    <message>
        <source>yes</source>
        <translation>あり</translation>
    </message>
    <message>
        <source>no</source>
        <translation>なし</translation>
    </message>
    <message>
        <source>Layer name</source>
        <translation>層の名前</translation>
    </message>
    <message>
        <source>Block</source>
        <translation>ブロック</translation>
    </message>
    <message>
        <source>Kind</source>
        <translation>種類</translation>
    </message>
    <message>
        <source>d_out</source>
        <translation>d_out</translation>
    </message>
    <message>
        <source>d_in</source>
        <translation>d_in</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>パラメータ数</translation>
    </message>
    <message>
        <source>Bias</source>
        <translation>バイアス</translation>
    </message>
    <message>
        <source>Module path of the linear layer in the checkpoint</source>
        <translation>チェックポイント内の線形層のモジュールパス</translation>
    </message>
    <message>
        <source>Decoder block (transformer layer) index</source>
        <translation>デコーダブロック(Transformer 層)の番号</translation>
    </message>
    <message>
        <source>Projection within the block</source>
        <translation>ブロック内の射影</translation>
    </message>
    <message>
        <source>Output features: rows of the weight matrix W</source>
        <translation>出力次元: 重み行列 W の行数</translation>
    </message>
    <message>
        <source>Input features: columns of the weight matrix W</source>
        <translation>入力次元: 重み行列 W の列数</translation>
    </message>
    <message>
        <source>Weight (and bias) parameters of this layer</source>
        <translation>この層の重み(とバイアス)のパラメータ数</translation>
    </message>
    <message>
        <source>Whether the layer has a bias vector</source>
        <translation>この層にバイアスベクトルがあるか</translation>
    </message>
    <message>
        <source>Rank</source>
        <translation>ランク</translation>
    </message>
    <message>
        <source>Rank (%1)</source>
        <translation>ランク（%1）</translation>
    </message>
    <message>
        <source>Error after</source>
        <translation>補償後の誤差</translation>
    </message>
    <message>
        <source>Error after %1</source>
        <translation>%1 後の誤差</translation>
    </message>
    <message>
        <source>α</source>
        <translation>α</translation>
    </message>
    <message>
        <source>Stable rank</source>
        <translation>安定ランク</translation>
    </message>
    <message>
        <source>‖W‖₂</source>
        <translation>‖W‖₂</translation>
    </message>
    <message>
        <source>The rank the open experiment&apos;s shown variant gave this layer</source>
        <translation>開いている実験の表示中のバリアントがこの層に与えたランク</translation>
    </message>
    <message>
        <source>Relative output error of this layer after compensation, tr(E C Eᵀ) / tr(W C Wᵀ) on the calibration inputs</source>
        <translation>補償後のこの層の相対出力誤差（キャリブレーション入力での tr(E C Eᵀ) / tr(W C Wᵀ)）</translation>
    </message>
    <message>
        <source>Power-law exponent of the weight&apos;s eigenvalue spectrum (W Wᵀ), fitted to its tail: about 2 to 6 for well-trained layers, larger when closer to random</source>
        <translation>重みの固有値スペクトル（W Wᵀ）の裾に当てはめたべき乗則の指数。よく学習された層では約 2〜6、ランダムに近いほど大きくなります</translation>
    </message>
    <message>
        <source>‖W‖_F² / ‖W‖₂²: how many directions carry the weight&apos;s energy</source>
        <translation>‖W‖_F² / ‖W‖₂²: 重みのエネルギーを担う方向の数</translation>
    </message>
    <message>
        <source>Largest singular value of the weight</source>
        <translation>重みの最大特異値</translation>
    </message>
</context>
<context>
    <name>rs::ui::LayerView</name>
    <message>
        <source>Filter layers by name, e.g. q_proj or layers.3.</source>
        <translation>層を名前で絞り込み(例: q_proj、layers.3.)</translation>
    </message>
    <message>
        <source>%1 layers</source>
        <translation>%1 層</translation>
    </message>
    <message>
        <source>%1 of %2 layers</source>
        <translation>%2 層中 %1 層</translation>
    </message>
</context>
<context>
    <name>rs::ui::LowRankOptions</name>
    <message>
        <source>Parameter reductions</source>
        <translation>パラメータ削減率</translation>
    </message>
    <message>
        <source>One uniform rank</source>
        <translation>一様なランク</translation>
    </message>
    <message>
        <source>Percentages of the selected linears&apos; weights to remove, separated by commas; one variant each</source>
        <translation>選択した線形層の重みを削減する割合(%、カンマ区切り)。それぞれが 1 つのバリアントになります</translation>
    </message>
    <message>
        <source>Every selected linear becomes a rank-r factor pair</source>
        <translation>選択したすべての線形層をランク r の因子ペアに置き換えます</translation>
    </message>
    <message>
        <source>Sizes:</source>
        <translation>サイズ:</translation>
    </message>
    <message>
        <source>Values:</source>
        <translation>値:</translation>
    </message>
    <message>
        <source>Reductions must be percentages between 0 and 100 separated by commas.</source>
        <translation>削減率は 0 より大きく 100 未満の割合をカンマ区切りで指定してください。</translation>
    </message>
</context>
<context>
    <name>rs::ui::MainWindow</name>
    <message>
        <source>Layer filter cleared to show %1.</source>
        <translation>%1 を表示するためレイヤーのフィルターを解除しました。</translation>
    </message>
    <message>
        <source>RankScope</source>
        <translation>RankScope</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>モデル</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>実行</translation>
    </message>
    <message>
        <source>Spectra</source>
        <translation>スペクトル</translation>
    </message>
    <message>
        <source>Error Curves</source>
        <translation>誤差曲線</translation>
    </message>
    <message>
        <source>Rank Budget</source>
        <translation>ランク予算</translation>
    </message>
    <message>
        <source>Trade-offs</source>
        <translation>トレードオフ</translation>
    </message>
    <message>
        <source>Experiments</source>
        <translation>実験</translation>
    </message>
    <message>
        <source>plan</source>
        <translation>プラン</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>ファイル(&amp;F)</translation>
    </message>
    <message>
        <source>Open Model &amp;Directory…</source>
        <translation>モデルのディレクトリを開く(&amp;D)…</translation>
    </message>
    <message>
        <source>Open a Hugging Face model directory (config.json + safetensors)</source>
        <translation>Hugging Face のモデルディレクトリ(config.json + safetensors)を開きます</translation>
    </message>
    <message>
        <source>Open llama2.c &amp;File…</source>
        <translation>llama2.c ファイルを開く(&amp;F)…</translation>
    </message>
    <message>
        <source>Ctrl+Shift+O</source>
        <translation>Ctrl+Shift+O</translation>
    </message>
    <message>
        <source>Open a llama2.c checkpoint (.bin)</source>
        <translation>llama2.c のチェックポイント (.bin) を開きます</translation>
    </message>
    <message>
        <source>&amp;Recent Models</source>
        <translation>最近使ったモデル(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>終了(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Edit</source>
        <translation>編集(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Preferences…</source>
        <translation>設定(&amp;P)…</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>表示(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>ヘルプ(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About RankScope</source>
        <translation>RankScope について(&amp;A)</translation>
    </message>
    <message>
        <source>About &amp;Qt</source>
        <translation>Qt について(&amp;Q)</translation>
    </message>
    <message>
        <source>No model</source>
        <translation>モデルなし</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>準備完了</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>キャンセル</translation>
    </message>
    <message>
        <source>Stop the running job</source>
        <translation>実行中のジョブを止めます</translation>
    </message>
    <message>
        <source>Busy: %1</source>
        <translation>処理中: %1</translation>
    </message>
    <message>
        <source>Open %1</source>
        <translation>%1 を開く</translation>
    </message>
    <message>
        <source>Device: %1</source>
        <translation>デバイス: %1</translation>
    </message>
    <message>
        <source>%1 — RankScope</source>
        <translation>%1 — RankScope</translation>
    </message>
    <message>
        <source>&amp;%1  %2</source>
        <translation>&amp;%1  %2</translation>
    </message>
    <message>
        <source>&amp;Clear Menu</source>
        <translation>メニューを消去(&amp;C)</translation>
    </message>
    <message>
        <source>Open Model Directory</source>
        <translation>モデルのディレクトリを開く</translation>
    </message>
    <message>
        <source>Open llama2.c Checkpoint</source>
        <translation>llama2.c のチェックポイントを開く</translation>
    </message>
    <message>
        <source>llama2.c checkpoints (*.bin);;All files (*)</source>
        <translation>llama2.c チェックポイント (*.bin);;すべてのファイル (*)</translation>
    </message>
    <message>
        <source>About RankScope</source>
        <translation>RankScope について</translation>
    </message>
    <message>
        <source>&lt;h3&gt;RankScope %1&lt;/h3&gt;&lt;p&gt;A workbench for compressing the linear layers of transformer language models and compensating the damage with low-rank paths.&lt;/p&gt;&lt;p&gt;Built with Qt %2 and LibTorch.&lt;/p&gt;</source>
        <translation>&lt;h3&gt;RankScope %1&lt;/h3&gt;&lt;p&gt;Transformer 言語モデルの線形層を圧縮し、その劣化を低ランクの経路で補償するためのワークベンチです。&lt;/p&gt;&lt;p&gt;Qt %2 と LibTorch で構築されています。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>%1…</source>
        <translation>%1…</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation>%1 — %2</translation>
    </message>
    <message>
        <source>%1 ms</source>
        <translation>%1 ミリ秒</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1 秒</translation>
    </message>
    <message>
        <source>%1: done in %2</source>
        <translation>%1: %2 で完了</translation>
    </message>
    <message>
        <source>Done in %1.</source>
        <translation>%1 で完了しました。</translation>
    </message>
    <message>
        <source>%1: failed</source>
        <translation>%1: 失敗</translation>
    </message>
    <message>
        <source>%1 failed.</source>
        <translation>%1 に失敗しました。</translation>
    </message>
    <message>
        <source>%1: cancelled</source>
        <translation>%1: キャンセルしました</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>キャンセルしました。</translation>
    </message>
    <message>
        <source>Store: %1</source>
        <translation>ストア: %1</translation>
    </message>
    <message>
        <source>Open a model first.</source>
        <translation>先にモデルを開いてください。</translation>
    </message>
    <message>
        <source>Compress %1 (%2)</source>
        <translation>%1 を圧縮 (%2)</translation>
    </message>
    <message>
        <source>Open the experiment&apos;s model to apply a plan.</source>
        <translation>プランを適用するには、実験のモデルを開いてください。</translation>
    </message>
    <message>
        <source>Apply rank plan of experiment %1</source>
        <translation>実験 %1 のランクプランを適用</translation>
    </message>
    <message>
        <source>Experiment %1</source>
        <translation>実験 %1</translation>
    </message>
    <message>
        <source>&amp;Export Checkpoint…</source>
        <translation>チェックポイントを書き出す(&amp;E)…</translation>
    </message>
    <message>
        <source>Ctrl+E</source>
        <translation>Ctrl+E</translation>
    </message>
    <message>
        <source>Write the open experiment as a GPTQ + adapter, merged or factorized checkpoint</source>
        <translation>開いている実験を GPTQ + アダプタ、統合、因子分解のいずれかのチェックポイントとして書き出します</translation>
    </message>
    <message>
        <source>Export experiment %1</source>
        <translation>実験 %1 を書き出す</translation>
    </message>
    <message>
        <source>Exported %1 (%2, %3 MB) to %4.</source>
        <translation>%1 (%2、%3 MB) を %4 に書き出しました。</translation>
    </message>
    <message>
        <source>
Perplexity in memory %1, read back from disk %2.</source>
        <translation>
パープレキシティ: メモリ上 %1、ディスクから読み戻して %2。</translation>
    </message>
    <message>
        <source>
Run in %1, as half-precision runtimes compute: %2.</source>
        <translation>
半精度ランタイムと同じく %1 で実行: %2。</translation>
    </message>
    <message>
        <source>Export Checkpoint</source>
        <translation>チェックポイントの書き出し</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>キャンセルしました</translation>
    </message>
    <message>
        <source>open the experiment&apos;s model and wait for the running job to measure them</source>
        <translation>測定するには実験のモデルを開き、実行中のジョブの終了を待ってください</translation>
    </message>
    <message>
        <source>Measure layer sensitivities of experiment %1</source>
        <translation>実験 %1 の層の感度を測定</translation>
    </message>
    <message>
        <source>another job is running</source>
        <translation>別のジョブが実行中です</translation>
    </message>
    <message>
        <source>Distillation</source>
        <translation>蒸留</translation>
    </message>
    <message>
        <source>Low-rank %1 (%2)</source>
        <translation>低ランク化 %1 (%2)</translation>
    </message>
    <message>
        <source>The run panel shows the settings of experiment %1.</source>
        <translation>実行パネルに実験 %1 の設定を読み込みました。</translation>
    </message>
    <message>
        <source>Analyse Selected Layers</source>
        <translation>選択した層を解析</translation>
    </message>
    <message>
        <source>Open an experiment and its model to analyse its layers.</source>
        <translation>層を解析するには、実験とそのモデルを開いてください。</translation>
    </message>
    <message>
        <source>Analyse layers of experiment %1</source>
        <translation>実験 %1 の層を解析</translation>
    </message>
    <message>
        <source>Wait for the running job to analyse layers.</source>
        <translation>実行中のジョブが終わってから層を解析してください。</translation>
    </message>
    <message>
        <source>No experiment open: run one or open one from Experiments.</source>
        <translation>開いている実験はありません。実行するか、「実験」から開いてください。</translation>
    </message>
    <message>
        <source>Every view shows this experiment:
%1</source>
        <translation>すべてのビューがこの実験を表示しています:
%1</translation>
    </message>
    <message>
        <source>Layer Metrics</source>
        <translation>層の指標</translation>
    </message>
</context>
<context>
    <name>rs::ui::MethodForm</name>
    <message>
        <source>Act-order</source>
        <translation>活性化順序 (act-order)</translation>
    </message>
    <message>
        <source>Alpha</source>
        <translation>アルファ</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>バッチ</translation>
    </message>
    <message>
        <source>Bits</source>
        <translation>ビット数</translation>
    </message>
    <message>
        <source>Block size</source>
        <translation>ブロックサイズ</translation>
    </message>
    <message>
        <source>Damping</source>
        <translation>ダンピング</translation>
    </message>
    <message>
        <source>Factor bits</source>
        <translation>因子のビット数</translation>
    </message>
    <message>
        <source>Group size</source>
        <translation>グループサイズ</translation>
    </message>
    <message>
        <source>Layer fraction</source>
        <translation>層の割合</translation>
    </message>
    <message>
        <source>Learning rate</source>
        <translation>学習率</translation>
    </message>
    <message>
        <source>N:M pattern</source>
        <translation>N:M パターン</translation>
    </message>
    <message>
        <source>Rank allocation</source>
        <translation>ランク配分</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>シード</translation>
    </message>
    <message>
        <source>Sparsity</source>
        <translation>スパース率</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>ステップ数</translation>
    </message>
    <message>
        <source>Symmetric</source>
        <translation>対称</translation>
    </message>
    <message>
        <source>Then quantize (bits)</source>
        <translation>続けて量子化（ビット数）</translation>
    </message>
    <message>
        <source>Weight decay</source>
        <translation>重み減衰</translation>
    </message>
</context>
<context>
    <name>rs::ui::PreferencesDialog</name>
    <message>
        <source>Preferences</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>システムの既定</translation>
    </message>
    <message>
        <source>Set RANKSCOPE_DB to use another database</source>
        <translation>別のデータベースを使うには RANKSCOPE_DB を設定してください</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>言語:</translation>
    </message>
    <message>
        <source>Experiment store:</source>
        <translation>実験ストア:</translation>
    </message>
    <message>
        <source>The workbench switches to a new language on OK, keeping the open model and experiment; while a job runs, at the next start.</source>
        <translation>OK を押すと、開いているモデルと実験をそのままに新しい言語に切り替わります。ジョブの実行中は次回の起動時に切り替わります。</translation>
    </message>
</context>
<context>
    <name>rs::ui::RankBarsPlot</name>
    <message>
        <source>uniform</source>
        <translation>一様</translation>
    </message>
    <message>
        <source>plan</source>
        <translation>プラン</translation>
    </message>
    <message>
        <source>rank</source>
        <translation>ランク</translation>
    </message>
    <message>
        <source>%1
uniform rank %2 · plan rank %3</source>
        <translation>%1
一様ランク %2 · プランのランク %3</translation>
    </message>
</context>
<context>
    <name>rs::ui::RankPlanModel</name>
    <message>
        <source>Double-click to set this layer&apos;s rank (0 .. %1)</source>
        <translation>ダブルクリックでこの層のランクを設定します (0 .. %1)</translation>
    </message>
    <message>
        <source>%1 × %2</source>
        <translation>%1 × %2</translation>
    </message>
    <message>
        <source>Rank of the uniform plan with the same budget</source>
        <translation>同じ予算での一様プランのランク</translation>
    </message>
    <message>
        <source>Rank of the current plan (budget-optimal, or as edited)</source>
        <translation>現在のプランのランク(予算内の最適値、または編集した値)</translation>
    </message>
    <message>
        <source>Adapter parameters r (d_out + d_in)</source>
        <translation>アダプタのパラメータ数 r (d_out + d_in)</translation>
    </message>
    <message>
        <source>Fraction of the layer&apos;s compression error left at the plan&apos;s rank</source>
        <translation>プランのランクで残る、この層の圧縮誤差の割合</translation>
    </message>
    <message>
        <source>Layer</source>
        <translation>層</translation>
    </message>
    <message>
        <source>d_out × d_in</source>
        <translation>d_out × d_in</translation>
    </message>
    <message>
        <source>Uniform r</source>
        <translation>一様 r</translation>
    </message>
    <message>
        <source>Plan r</source>
        <translation>プラン r</translation>
    </message>
    <message>
        <source>Adapter params</source>
        <translation>アダプタのパラメータ数</translation>
    </message>
    <message>
        <source>Error left</source>
        <translation>残る誤差</translation>
    </message>
</context>
<context>
    <name>rs::ui::RunPanel</name>
    <message>
        <source>Another job is running: run when it has finished</source>
        <translation>別のジョブが実行中です。終了してから実行してください</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1 秒</translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation>%1 分 %2 秒</translation>
    </message>
    <message>
        <source>Also plain SVD</source>
        <translation>通常の SVD も</translation>
    </message>
    <message>
        <source>Also without compensation</source>
        <translation>補償なしも</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>実行</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>キャンセル</translation>
    </message>
    <message>
        <source>Text file the statistics are gathered from</source>
        <translation>統計を集めるテキストファイル</translation>
    </message>
    <message>
        <source>whole text</source>
        <translation>テキスト全体</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> トークン</translation>
    </message>
    <message>
        <source>Calibration token budget (0: the whole text)</source>
        <translation>キャリブレーションのトークン数(0: テキスト全体)</translation>
    </message>
    <message>
        <source>Parallel (original activations)</source>
        <translation>並列(元の活性化)</translation>
    </message>
    <message>
        <source>Sequential (through compressed layers)</source>
        <translation>逐次(圧縮した層を通す)</translation>
    </message>
    <message>
        <source>Parallel: statistics of the original model, reusable across runs. Sequential: each decoder layer sees inputs that went through the already compressed and compensated layers.</source>
        <translation>並列: 元のモデルの統計で、実行をまたいで再利用できます。逐次: 各デコーダ層は、すでに圧縮・補償した層を通った入力を受け取ります。</translation>
    </message>
    <message>
        <source>Uniform ranks to fit, separated by commas; every rank reuses one decomposition per layer</source>
        <translation>当てはめる一様ランク(カンマ区切り)。どのランクも層ごとに 1 回の分解を再利用します</translation>
    </message>
    <message>
        <source>Optional: held-out text for perplexity</source>
        <translation>任意: パープレキシティ用の評価テキスト</translation>
    </message>
    <message>
        <source>Calibration</source>
        <translation>キャリブレーション</translation>
    </message>
    <message>
        <source>Text:</source>
        <translation>テキスト:</translation>
    </message>
    <message>
        <source>Calibration Text</source>
        <translation>キャリブレーションテキスト</translation>
    </message>
    <message>
        <source>Budget:</source>
        <translation>予算:</translation>
    </message>
    <message>
        <source>Mode:</source>
        <translation>モード:</translation>
    </message>
    <message>
        <source>Compression</source>
        <translation>圧縮</translation>
    </message>
    <message>
        <source>Compensation</source>
        <translation>補償</translation>
    </message>
    <message>
        <source>Ranks:</source>
        <translation>ランク:</translation>
    </message>
    <message>
        <source>Evaluation</source>
        <translation>評価</translation>
    </message>
    <message>
        <source>Evaluation Text</source>
        <translation>評価テキスト</translation>
    </message>
    <message>
        <source>Choose a file</source>
        <translation>ファイルを選択</translation>
    </message>
    <message>
        <source>Text files (*.txt *.raw);;All files (*)</source>
        <translation>テキストファイル (*.txt *.raw);;すべてのファイル (*)</translation>
    </message>
    <message>
        <source>Choose a calibration text.</source>
        <translation>キャリブレーションテキストを選んでください。</translation>
    </message>
    <message>
        <source>%1: no such file</source>
        <translation>%1: ファイルがありません</translation>
    </message>
    <message>
        <source>Ranks must be positive whole numbers separated by commas.</source>
        <translation>ランクはカンマ区切りの正の整数で指定してください。</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>開始しています…</translation>
    </message>
    <message>
        <source>Open a model first</source>
        <translation>先にモデルを開いてください</translation>
    </message>
    <message>
        <source>Calibrate, compress, compensate at every rank and evaluate; the run is recorded as an experiment</source>
        <translation>キャリブレーション、圧縮、各ランクでの補償、評価を行います。実行は実験として記録されます</translation>
    </message>
    <message>
        <source> — %1</source>
        <translation> — %1</translation>
    </message>
    <message>
        <source> (about %1 left)</source>
        <translation>(残り約 %1)</translation>
    </message>
    <message>
        <source>Compress and compensate</source>
        <translation>圧縮と補償</translation>
    </message>
    <message>
        <source>Low-rank replacement (LoRD, Lillama)</source>
        <translation>低ランク置換(LoRD、Lillama)</translation>
    </message>
    <message>
        <source>Compress and compensate: quantize or prune, then add low-rank paths that correct the error. Low-rank replacement: replace the dense linears themselves by factor pairs.</source>
        <translation>圧縮と補償: 量子化または枝刈りの後、誤差を補正する低ランク経路を追加します。低ランク置換: 密な線形層そのものを因子ペアに置き換えます。</translation>
    </message>
    <message>
        <source>Low-rank replacement</source>
        <translation>低ランク置換</translation>
    </message>
    <message>
        <source>Job:</source>
        <translation>ジョブ:</translation>
    </message>
    <message>
        <source>Calibrate, replace the selected linears by factor pairs (trained by local distillation with Lillama) and evaluate; the run is recorded as an experiment</source>
        <translation>キャリブレーションし、選択した線形層を因子ペアに置き換え(Lillama では局所蒸留で学習)、評価します。実行は実験として記録されます</translation>
    </message>
    <message>
        <source>Analyse every layer (spectra, error curves)</source>
        <translation>すべての層を解析(スペクトル、誤差曲線)</translation>
    </message>
    <message>
        <source>On large models the analysis costs about as much as the compensation. Without it, layers can be analysed later from the layer table&apos;s context menu.</source>
        <translation>大きなモデルでは、解析に補償とほぼ同じ時間がかかります。解析しなかった場合も、あとで層の表のコンテキストメニューから層を解析できます。</translation>
    </message>
    <message>
        <source>%1 %2%</source>
        <translation>%1 %2%</translation>
    </message>
</context>
<context>
    <name>rs::ui::RunResults</name>
    <message>
        <source>Model</source>
        <translation>モデル</translation>
    </message>
    <message>
        <source>Perplexity</source>
        <translation>パープレキシティ</translation>
    </message>
    <message>
        <source>vs none</source>
        <translation>補償なし比</translation>
    </message>
    <message>
        <source>Adapter</source>
        <translation>アダプタ</translation>
    </message>
    <message>
        <source>Change of perplexity against the compressed model without compensation</source>
        <translation>補償なしの圧縮モデルに対するパープレキシティの変化</translation>
    </message>
    <message>
        <source>Experiment %1</source>
        <translation>実験 %1</translation>
    </message>
    <message>
        <source> “%1”</source>
        <translation>「%1」</translation>
    </message>
    <message>
        <source>original model</source>
        <translation>元のモデル</translation>
    </message>
    <message>
        <source>not evaluated (no evaluation text)</source>
        <translation>未評価（評価テキストなし）</translation>
    </message>
</context>
<context>
    <name>rs::ui::SpectrumHeatmap</name>
    <message>
        <source>Heatmap of all layers:</source>
        <translation>全層のヒートマップ:</translation>
    </message>
    <message>
        <source>Each row is one layer&apos;s spectrum divided by its largest value</source>
        <translation>各行は 1 つの層のスペクトルを最大値で割ったものです</translation>
    </message>
    <message>
        <source>index i (descending order)</source>
        <translation>インデックス i(降順)</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>層</translation>
    </message>
    <message>
        <source>normalised spectrum</source>
        <translation>正規化スペクトル</translation>
    </message>
    <message>
        <source>λ_i / λ_1</source>
        <translation>λ_i / λ_1</translation>
    </message>
    <message>
        <source>σ_i / σ_1 of %1</source>
        <translation>%1 の σ_i / σ_1</translation>
    </message>
    <message numerus="yes">
        <source>Normalised %1 of all %n layers</source>
        <translation>
            <numerusform>全 %n 層の正規化 %1</numerusform>
        </translation>
    </message>
    <message>
        <source>L%1</source>
        <translation>L%1</translation>
    </message>
    <message>
        <source>%1
i = %2: %3 = %4 of the largest
Double-click to select this layer</source>
        <translation>%1
i = %2: %3 = 最大値の %4
ダブルクリックでこの層を選択します</translation>
    </message>
</context>
<context>
    <name>rs::ui::SpectrumView</name>
    <message>
        <source>Show:</source>
        <translation>表示:</translation>
    </message>
    <message>
        <source>Singular values of dW·S, the compression error weighted by the calibration inputs (S Sᵀ = C): EoRA keeps the largest r of them</source>
        <translation>dW·S の特異値。キャリブレーション入力で重み付けした圧縮誤差 (S Sᵀ = C)。EoRA はその上位 r 個を残します</translation>
    </message>
    <message>
        <source>Singular values of the compression error dW = W − W_c: plain SVD keeps the largest r</source>
        <translation>圧縮誤差 dW = W − W_c の特異値。通常の SVD は上位 r 個を残します</translation>
    </message>
    <message>
        <source>Singular values of the original weight W</source>
        <translation>元の重み W の特異値</translation>
    </message>
    <message>
        <source>Eigenvalues of the input Gram matrix C = XᵀX (right axis); modes below the EoRA tolerance are discarded</source>
        <translation>入力のグラム行列 C = XᵀX の固有値(右軸)。EoRA の許容値を下回るモードは捨てられます</translation>
    </message>
    <message>
        <source>index i (descending order)</source>
        <translation>インデックス i(降順)</translation>
    </message>
    <message>
        <source>singular value σ_i</source>
        <translation>特異値 σ_i</translation>
    </message>
    <message>
        <source>eigenvalue λ_i of C (Σ x² over calibration tokens)</source>
        <translation>C の固有値 λ_i(キャリブレーショントークン上の Σ x²)</translation>
    </message>
    <message>
        <source>No experiment loaded</source>
        <translation>実験が読み込まれていません</translation>
    </message>
    <message>
        <source>Run a compression with analysis, or open an experiment, to see the spectra of its layers.</source>
        <translation>解析付きで圧縮を実行するか実験を開くと、各層のスペクトルを表示します。</translation>
    </message>
    <message>
        <source>No layer analysis stored</source>
        <translation>層の解析が保存されていません</translation>
    </message>
    <message>
        <source>%1 · %2</source>
        <translation>%1 · %2</translation>
    </message>
    <message>
        <source>No layer selected</source>
        <translation>層が選択されていません</translation>
    </message>
    <message numerus="yes">
        <source>Spectra of %n selected layers</source>
        <translation>
            <numerusform>選択した %n 層のスペクトル</numerusform>
        </translation>
    </message>
    <message>
        <source>Spectra of %1 (%2 × %3)</source>
        <translation>%1 のスペクトル (%2 × %3)</translation>
    </message>
    <message>
        <source>EoRA tolerance %1 (%2 discarded)</source>
        <translation>EoRA 許容値 %1(%2 個を破棄)</translation>
    </message>
    <message>
        <source>effective rank of C: %1</source>
        <translation>C の実効ランク: %1</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>i = %1</source>
        <translation>i = %1</translation>
    </message>
    <message>
        <source>This experiment was run without layer analysis. The layers selected in the layer table (all when none is) can be analysed now from its saved calibration statistics.</source>
        <translation>この実験は層の解析なしで実行されました。層の表で選択した層(選択がなければすべて)を、保存されたキャリブレーション統計から今すぐ解析できます。</translation>
    </message>
    <message>
        <source>Analyse the selected layers</source>
        <translation>選択した層を解析</translation>
    </message>
    <message>
        <source>%1 (right axis)</source>
        <translation>%1（右軸）</translation>
    </message>
</context>
<context>
    <name>rs::ui::SummaryPanel</name>
    <message numerus="yes">
        <source>and %n more</source>
        <translation>
            <numerusform>ほか %n 個</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>⚠ %n tensor(s) in the files are not used by the config and not counted: %1</source>
        <translation>
            <numerusform>⚠ ファイル内の %n 個のテンソルは config で使われておらず、数えていません: %1</numerusform>
        </translation>
    </message>
    <message>
        <source>&lt;p&gt;&lt;b&gt;No model open.&lt;/b&gt;&lt;/p&gt;&lt;p&gt;Use &lt;i&gt;File ▸ Open Model Directory…&lt;/i&gt; for a Hugging Face directory (config.json + safetensors) or &lt;i&gt;File ▸ Open llama2.c File…&lt;/i&gt; for a .bin checkpoint, or drop either onto this window.&lt;/p&gt;</source>
        <translation>&lt;p&gt;&lt;b&gt;モデルが開かれていません。&lt;/b&gt;&lt;/p&gt;&lt;p&gt;Hugging Face のディレクトリ(config.json + safetensors)は &lt;i&gt;ファイル ▸ モデルのディレクトリを開く…&lt;/i&gt;、.bin チェックポイントは &lt;i&gt;ファイル ▸ llama2.c ファイルを開く…&lt;/i&gt; で開くか、このウィンドウにドロップしてください。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>アーキテクチャ</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>形式</translation>
    </message>
    <message>
        <source>Hidden / MLP</source>
        <translation>隠れ層 / MLP</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>層</translation>
    </message>
    <message>
        <source>Heads / KV heads</source>
        <translation>ヘッド / KV ヘッド</translation>
    </message>
    <message>
        <source>Head dim</source>
        <translation>ヘッド次元</translation>
    </message>
    <message>
        <source>Vocabulary</source>
        <translation>語彙</translation>
    </message>
    <message>
        <source>Context</source>
        <translation>コンテキスト</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>パラメータ数</translation>
    </message>
    <message>
        <source>In linears</source>
        <translation>線形層内</translation>
    </message>
    <message>
        <source>Tokenizer</source>
        <translation>トークナイザ</translation>
    </message>
    <message>
        <source>%1, %2</source>
        <translation>%1、%2</translation>
    </message>
    <message>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 トークン</translation>
    </message>
    <message>
        <source>%1 positions</source>
        <translation>%1 位置</translation>
    </message>
    <message>
        <source>%1 total</source>
        <translation>合計 %1</translation>
    </message>
    <message>
        <source>%1 in %2 layers</source>
        <translation>%2 層で %1</translation>
    </message>
    <message>
        <source>none found</source>
        <translation>見つかりません</translation>
    </message>
</context>
<context>
    <name>rs::ui::TradeoffView</name>
    <message>
        <source>Predicted error (mean relative output error)</source>
        <translation>予測誤差(平均相対出力誤差)</translation>
    </message>
    <message>
        <source>Measured perplexity</source>
        <translation>測定したパープレキシティ</translation>
    </message>
    <message>
        <source>size: bits per weight of the compressed layers, incl. adapter</source>
        <translation>サイズ: 圧縮した層の重みあたりのビット数(アダプタ込み)</translation>
    </message>
    <message>
        <source>Error axis:</source>
        <translation>誤差軸:</translation>
    </message>
    <message>
        <source>perplexity</source>
        <translation>パープレキシティ</translation>
    </message>
    <message>
        <source>mean relative output error</source>
        <translation>平均相対出力誤差</translation>
    </message>
    <message>
        <source>Pareto front</source>
        <translation>パレートフロント</translation>
    </message>
    <message>
        <source> (%1 without a size or result not shown)</source>
        <translation>(サイズか結果のない %1 個は非表示)</translation>
    </message>
    <message>
        <source>No evaluated experiments of this model yet: run one with an evaluation text.</source>
        <translation>このモデルの評価済みの実験はまだありません。評価テキストを指定して実行してください。</translation>
    </message>
    <message>
        <source>No finished experiments of this model yet.</source>
        <translation>このモデルの完了した実験はまだありません。</translation>
    </message>
    <message>
        <source>%1 variants, %2 on the Pareto front%3. Hover a point to name it; click it to open its experiment.</source>
        <translation>%1 個のバリアント、パレートフロント上に %2 個%3。点にマウスを重ねると名前を表示し、クリックするとその実験を開きます。</translation>
    </message>
    <message>
        <source>original model: %1</source>
        <translation>元のモデル: %1</translation>
    </message>
    <message>
        <source>Experiment %1 · %2 · %3
%4 bits per weight · predicted error %5</source>
        <translation>実験 %1 · %2 · %3
重みあたり %4 ビット · 予測誤差 %5</translation>
    </message>
    <message>
        <source> · perplexity %1</source>
        <translation> · パープレキシティ %1</translation>
    </message>
    <message>
        <source>
on the Pareto front</source>
        <translation>
パレートフロント上</translation>
    </message>
</context>
<context>
    <name>rs::ui::WindowHost</name>
    <message>
        <source>The new language applies at the next start: a job is running.</source>
        <translation>ジョブの実行中のため、新しい言語は次回の起動時に適用されます。</translation>
    </message>
    <message>
        <source>The language could not be switched: %1</source>
        <translation>言語を切り替えられませんでした: %1</translation>
    </message>
</context>
</TS>
