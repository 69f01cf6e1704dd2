//! `wismo init` and `wismo check`: a store workspace from the built-ins, and
//! everything about it checked (files, training data quality, its tests).

use anyhow::{Context, Result};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use wismo_core::nlu::data::TrainingData;
use wismo_core::nlu::model::NluModel;
use wismo_core::nlu::{self as core_nlu, NluTrainOptions};
use wismo_core::workspace::{builtin_files, Severity, Workspace, WorkspaceFiles};

#[derive(Args)]
pub struct InitArgs {
    /// The folder to create (or fill).
    pub dir: PathBuf,
    /// Write into a folder that is not empty (files of the same name are overwritten).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct CheckArgs {
    /// The store workspace folder.
    pub dir: PathBuf,
    /// Skip the cross-validation of the training data.
    #[arg(long)]
    pub no_nlu: bool,
    /// Skip the workspace's tests/.
    #[arg(long)]
    pub no_tests: bool,
}

pub fn init(a: &InitArgs) -> Result<()> {
    if a.dir.exists() {
        let non_empty = std::fs::read_dir(&a.dir)
            .with_context(|| format!("cannot read {}", a.dir.display()))?
            .next()
            .is_some();
        if non_empty && !a.force {
            anyhow::bail!(
                "{} is not empty; use --force to write the workspace files into it",
                a.dir.display()
            );
        }
    }
    let files = builtin_files();
    for (rel, text) in files.iter() {
        let path = a.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    crate::say(format!(
        "wrote a store workspace to {} ({} files). Next: edit store.toml, then `wismo check {}`.",
        a.dir.display(),
        files.len(),
        a.dir.display()
    ));
    Ok(())
}

/// Reads and checks the workspace in `dir`; errors (and warnings) printed
/// to standard error as `file:line: message`.
pub fn load(dir: &Path) -> Result<Workspace> {
    if !dir.is_dir() {
        anyhow::bail!("store folder {} does not exist", dir.display());
    }
    let files = WorkspaceFiles::read_dir(dir)?;
    match Workspace::load(&files) {
        Ok(ws) => Ok(ws),
        Err(diags) => {
            for d in &diags {
                eprintln!("{}: {d}", label(d.severity));
            }
            let n = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            anyhow::bail!("the store workspace {} has {n} error(s)", dir.display())
        }
    }
}

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Trained models by training-data hash, so one process trains each
/// workspace's data once.
pub fn train_cached(
    cache: &mut HashMap<String, NluModel>,
    key: &str,
    data: &TrainingData,
) -> Result<NluModel> {
    if let Some(m) = cache.get(key) {
        return Ok(m.clone());
    }
    let m = core_nlu::train(data, &NluTrainOptions::default(), &mut |_| {})?;
    cache.insert(key.to_string(), m.clone());
    Ok(m)
}

pub fn check(a: &CheckArgs) -> Result<bool> {
    let start = std::time::Instant::now();
    let ws = match load(&a.dir) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(false);
        }
    };
    for d in ws.warnings() {
        crate::say(format!("warning: {d}"));
    }
    crate::say(format!(
        "{}: {} files, languages {}, {} warning(s)",
        a.dir.display(),
        ws.files().len(),
        ws.profile().languages.join(", "),
        ws.warnings().len()
    ));
    let data = ws.training_data();
    if !a.no_nlu {
        let (accuracy, n, confusions) = cross_validate(&data, 3)?;
        crate::say(format!(
            "NLU: {} examples, {} intents; 3-fold cross-validated accuracy {:.1}% ({n} messages)",
            data.examples.len(),
            data.intents().len(),
            accuracy * 100.0
        ));
        for c in confusions.iter().take(5) {
            crate::say(format!(
                "  most confused: {} taken for {} ({}x)",
                c.expected, c.predicted, c.count
            ));
        }
    }
    let mut ok = true;
    let tests: Vec<PathBuf> = ws
        .files()
        .under("tests")
        .map(|(p, _)| a.dir.join(p))
        .collect();
    if !a.no_tests && !tests.is_empty() {
        let args = crate::chat::TestArgs::for_store(&a.dir, tests);
        ok = crate::chat::test(&args)?;
    }
    crate::say(format!(
        "checked in {:.1} s{}",
        start.elapsed().as_secs_f64(),
        if ok { "" } else { "; some tests failed" }
    ));
    Ok(ok)
}

/// k-fold cross-validated accuracy (examples dealt round-robin per intent),
/// the number of messages scored, and the confusions, most frequent first.
fn cross_validate(
    data: &TrainingData,
    k: usize,
) -> Result<(f64, usize, Vec<core_nlu::evaluate::Confusion>)> {
    let mut fold_of: Vec<usize> = Vec::with_capacity(data.examples.len());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for e in &data.examples {
        let n = seen.entry(e.intent.as_str()).or_default();
        fold_of.push(*n % k);
        *n += 1;
    }
    let mut gold: Vec<String> = Vec::new();
    let mut predicted: Vec<String> = Vec::new();
    for fold in 0..k {
        let mut train = TrainingData {
            synonyms: data.synonyms.clone(),
            regexes: data.regexes.clone(),
            lookups: data.lookups.clone(),
            ..Default::default()
        };
        let mut test = Vec::new();
        for (e, f) in data.examples.iter().zip(&fold_of) {
            // Intents with fewer than k examples always train.
            if *f == fold && seen.get(e.intent.as_str()).is_some_and(|n| *n >= k) {
                test.push(e);
            } else {
                train.examples.push(e.clone());
            }
        }
        let model = core_nlu::train(&train, &NluTrainOptions::default(), &mut |_| {})?;
        let nlu = core_nlu::Nlu::new(model, &Default::default())?;
        for e in test {
            let top = nlu.classify(&e.text, 1);
            gold.push(e.intent.clone());
            predicted.push(top.first().map(|s| s.name.clone()).unwrap_or_default());
        }
    }
    let g: Vec<&str> = gold.iter().map(String::as_str).collect();
    let p: Vec<&str> = predicted.iter().map(String::as_str).collect();
    let (accuracy, _, _, confusions) = core_nlu::evaluate::score(&g, &p, 5);
    Ok((accuracy, g.len(), confusions))
}
