//! The public NLU benchmark as a regression test: train on BANKING77's
//! train.csv, test on test.csv, and hold the accuracy floor of the NLU issue.
//! The data lives in the shared folder beside the repository; when it is not
//! there (a bare clone), the test says so and passes without checking.

use std::path::PathBuf;
use wismo_core::nlu::{self, data, NluTrainOptions};

fn banking77() -> Option<PathBuf> {
    let dir = std::env::var_os("WISMO_BANKING77_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/banking77")
        });
    dir.join("train.csv").exists().then_some(dir)
}

#[test]
fn banking77_accuracy_is_at_least_92_percent() {
    let Some(dir) = banking77() else {
        eprintln!(
            "BANKING77 not found beside the repository; set WISMO_BANKING77_DIR to run this check"
        );
        return;
    };
    let train = data::load_file(&dir.join("train.csv")).expect("train.csv parses");
    let test = data::load_file(&dir.join("test.csv")).expect("test.csv parses");
    assert_eq!(train.examples.len(), 10_003);
    assert_eq!(test.examples.len(), 3_080);
    let model =
        nlu::train(&train, &NluTrainOptions::default(), &mut |_| {}).expect("training succeeds");
    assert_eq!(model.classifier.classes().len(), 77);
    let nlu = nlu::Nlu::new(model, &Default::default()).expect("model is usable");
    let correct = test
        .examples
        .iter()
        .filter(|e| {
            nlu.classify(&e.text, 1)
                .first()
                .is_some_and(|s| s.name == e.intent)
        })
        .count();
    let accuracy = correct as f64 / test.examples.len() as f64;
    eprintln!(
        "BANKING77 accuracy: {:.2}% ({correct}/{})",
        accuracy * 100.0,
        test.examples.len()
    );
    assert!(
        accuracy >= 0.92,
        "BANKING77 accuracy {:.2}% is below the 92.0% floor",
        accuracy * 100.0
    );
}
