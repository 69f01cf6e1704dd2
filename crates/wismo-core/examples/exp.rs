use wismo_core::nlu::classifier::{features::*, *};
fn read(p: &str) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(p).unwrap();
    r.records().map(|r| { let r = r.unwrap(); (r[0].to_string(), r[1].to_string()) }).collect()
}
fn main() {
    let tr = read("/work/shared/data/banking77/train.csv");
    let te = read("/work/shared/data/banking77/test.csv");
    let args: Vec<f32> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let mut o = TrainOptions::default();
    if let Some(&c) = args.first() { o.c = c; }
    if let Some(&w) = args.get(1) { o.features.word_weight = w; }
    if let Some(&w) = args.get(2) { o.features.char_weight = w; }
    if let Some(&w) = args.get(3) { o.features.pair_weight = w; }
    if let Some(&w) = args.get(4) { o.calibration_share = w; }
    if let Some(&w) = args.get(5) { o.features.min_df = w as u32; }
    if let Some(&w) = args.get(6) { o.tolerance = w; }
    let ex: Vec<(&str, &str)> = tr.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let t = std::time::Instant::now();
    let m = IntentClassifier::train(&ex, &o, &mut |_| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let mut s = Scratch::default(); let mut x = Sparse::new();
    let t = std::time::Instant::now();
    let mut ok = 0; let mut nll = 0.0f64; let mut conf_sum = 0.0;
    for (text, lab) in &te {
        let r = m.rank(text, 77, &mut s, &mut x);
        if &r[0].name == lab { ok += 1; }
        conf_sum += r[0].confidence as f64;
        let p = r.iter().find(|i| &i.name == lab).map(|i| i.confidence).unwrap_or(1e-9);
        nll -= (p.max(1e-9) as f64).ln();
    }
    let per = t.elapsed().as_secs_f64() / te.len() as f64 * 1e6;
    println!("{:?} acc={:.2}% meanconf={:.3} nll={:.3} T={:.4} train={:.1}s {:.1}us/msg dim={}", args, ok as f64 * 100.0 / te.len() as f64, conf_sum / te.len() as f64, nll / te.len() as f64, m.temperature(), secs, per, m.to_parts().0.featurizer.idf.len());
}
