//! The set of loaded hands: the built-in ones compiled into the binary plus the user's, and
//! every file that did not load.
//!
//! Rules it keeps:
//! - The shipped hands (`hands/<name>/HAND.toml` in the repository) are embedded with
//!   `include_str!`, so an installed binary has them without the source tree.
//! - User hands live in `<hands dir>/<name>/HAND.toml` ([`hands_dir`]); one with the name of a
//!   built-in replaces it.
//! - A broken file is an entry in [`Catalogue::errors`] (path and message), never a reason to
//!   hide the other hands. A broken user file named like a built-in leaves the built-in in use,
//!   and its message says so.
//! - A missing hands dir is normal (no user hands yet); an unreadable one is an error.
//! - Loading is plain file IO and parsing, so tests run it on temporary directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::HandError;
use crate::hand::{HAND_FILE, Hand, parse_hand};

/// The [`Hand::source`] of a built-in hand.
pub const BUILTIN_SOURCE: &str = "builtin";

/// The variable naming the user hands dir; it wins over everything else.
pub const HANDS_DIR_ENV: &str = "AGENTOS_HANDS_DIR";

/// The variable naming agentos's config dir (set by the supervisor); the hands dir defaults to
/// its `hands/` subdirectory.
pub const CONFIG_DIR_ENV: &str = "AGENTOS_CONFIG_DIR";

/// A hand shipped inside the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinHand {
    /// Its directory name under `hands/`.
    pub name: &'static str,
    /// The text of its `HAND.toml`.
    pub text: &'static str,
}

/// Every hand this binary ships, from the repository's `hands/` directory.
pub const BUILTIN_HANDS: &[BuiltinHand] = &[
    BuiltinHand { name: "coder", text: include_str!("../../../hands/coder/HAND.toml") },
    BuiltinHand { name: "reviewer", text: include_str!("../../../hands/reviewer/HAND.toml") },
    BuiltinHand { name: "tester", text: include_str!("../../../hands/tester/HAND.toml") },
    BuiltinHand { name: "explorer", text: include_str!("../../../hands/explorer/HAND.toml") },
];

/// A hand file that did not load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadError {
    /// The file (or directory) at fault; `builtin:hands/<name>/HAND.toml` for a shipped hand.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `[hands]` of `agentos.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandsSettings {
    /// The user hands dir; a relative path is relative to the directory of `agentos.toml`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

/// Where user hands live: `AGENTOS_HANDS_DIR` (`env_dir`) if set, else `[hands] dir` of the
/// config file (relative to the file's directory), else `<config dir>/hands`. `None` when none
/// is known (a worker run by hand without the supervisor's environment): built-ins only.
pub fn hands_dir(
    env_dir: Option<PathBuf>,
    settings: &HandsSettings,
    config_file: Option<&Path>,
    config_dir: Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(dir) = env_dir.filter(|d| !d.as_os_str().is_empty()) {
        return Some(dir);
    }
    if let Some(dir) = &settings.dir {
        let base = config_file.and_then(Path::parent).filter(|_| dir.is_relative());
        return Some(base.map_or_else(|| dir.clone(), |b| b.join(dir)));
    }
    config_dir.filter(|d| !d.as_os_str().is_empty()).map(|d| d.join("hands"))
}

/// The loaded hands by name, and what did not load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    hands: BTreeMap<String, Hand>,
    errors: Vec<LoadError>,
}

impl Catalogue {
    /// Loads `builtins`, then every `<user_dir>/<name>/HAND.toml` over them.
    pub fn load(builtins: &[BuiltinHand], user_dir: Option<&Path>) -> Self {
        let mut catalogue = Self::default();
        for builtin in builtins {
            let path = format!("{BUILTIN_SOURCE}:hands/{}/{HAND_FILE}", builtin.name);
            match parse_hand(builtin.text, builtin.name, BUILTIN_SOURCE) {
                Ok(hand) => {
                    catalogue.hands.insert(hand.name.clone(), hand);
                }
                Err(message) => catalogue.errors.push(LoadError { path, message }),
            }
        }
        if let Some(dir) = user_dir {
            catalogue.load_dir(dir);
        }
        catalogue
    }

    /// Loads every hand directory of `dir` over what is there.
    fn load_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.errors.push(LoadError {
                    path: dir.display().to_string(),
                    message: format!(
                        "cannot read the hands dir ({e}): fix its permissions or point AGENTOS_HANDS_DIR elsewhere"
                    ),
                });
                return;
            }
        };
        let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for hand_dir in dirs {
            let Some(name) = hand_dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                self.errors.push(LoadError {
                    path: hand_dir.display().to_string(),
                    message: "the directory name is not UTF-8: rename it to the hand's name".to_string(),
                });
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let file = hand_dir.join(HAND_FILE);
            let path = file.display().to_string();
            let loaded = match std::fs::read_to_string(&file) {
                Ok(text) => parse_hand(&text, &name, &path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                    "missing: every directory in the hands dir is a hand and needs a {HAND_FILE}; add one or move the directory out"
                )),
                Err(e) => Err(format!("cannot read it ({e}): fix its permissions")),
            };
            match loaded {
                Ok(hand) => {
                    if let Some(old) = self.hands.get(&name)
                        && old.source == BUILTIN_SOURCE
                    {
                        tracing::info!(hand = %name, %path, "a user hand replaces the built-in one");
                    }
                    self.hands.insert(name, hand);
                }
                Err(mut message) => {
                    if self.hands.get(&name).is_some_and(|h| h.source == BUILTIN_SOURCE) {
                        message
                            .push_str(&format!("; the built-in hand {name:?} stays in use until this file is fixed"));
                    }
                    self.errors.push(LoadError { path, message });
                }
            }
        }
    }

    /// Every loaded hand, sorted by name.
    pub fn hands(&self) -> impl Iterator<Item = &Hand> {
        self.hands.values()
    }

    /// How many hands loaded.
    pub fn len(&self) -> usize {
        self.hands.len()
    }

    /// Whether no hand loaded.
    pub fn is_empty(&self) -> bool {
        self.hands.is_empty()
    }

    /// The files that did not load.
    pub fn errors(&self) -> &[LoadError] {
        &self.errors
    }

    /// Hand `name`, or `NOT_FOUND` listing the known names.
    pub fn get(&self, name: &str) -> Result<&Hand, HandError> {
        self.hands
            .get(name)
            .ok_or_else(|| HandError::NotFound { name: name.to_string(), known: self.hands.keys().cloned().collect() })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::hand::Tier;
    use pretty_assertions::assert_eq;

    fn hand_text(name: &str, description: &str) -> String {
        format!(
            "name = \"{name}\"\ndescription = \"{description}\"\nallowed_functions = [\"code::list\"]\n[prompt]\nsystem = \"Be {name}.\"\n"
        )
    }

    fn write_hand(dir: &Path, name: &str, text: &str) -> PathBuf {
        let hand_dir = dir.join(name);
        std::fs::create_dir_all(&hand_dir).unwrap();
        let file = hand_dir.join(HAND_FILE);
        std::fs::write(&file, text).unwrap();
        file
    }

    const ALPHA: BuiltinHand = BuiltinHand {
        name: "alpha",
        text: "name = \"alpha\"\ndescription = \"built in\"\nallowed_functions = []\n[prompt]\nsystem = \"x\"\n",
    };

    #[test]
    fn a_user_hand_replaces_the_built_in_of_the_same_name_and_adds_to_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let alpha = write_hand(dir.path(), "alpha", &hand_text("alpha", "mine"));
        let beta = write_hand(dir.path(), "beta", &hand_text("beta", "also mine"));

        let catalogue = Catalogue::load(&[ALPHA], Some(dir.path()));
        assert_eq!(catalogue.errors(), &[]);
        let got: Vec<(&str, &str, &str)> =
            catalogue.hands().map(|h| (h.name.as_str(), h.description.as_str(), h.source.as_str())).collect();
        let (alpha, beta) = (alpha.display().to_string(), beta.display().to_string());
        assert_eq!(got, vec![("alpha", "mine", alpha.as_str()), ("beta", "also mine", beta.as_str())]);
    }

    #[test]
    fn a_broken_user_hand_is_reported_without_hiding_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write_hand(dir.path(), "bad", &hand_text("bad", "x").replace("description", "descripton"));
        let mismatch = write_hand(dir.path(), "gamma", &hand_text("delta", "x"));
        write_hand(dir.path(), "good", &hand_text("good", "fine"));
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a hand").unwrap();

        let catalogue = Catalogue::load(&[ALPHA], Some(dir.path()));
        let names: Vec<&str> = catalogue.hands().map(|h| h.name.as_str()).collect();
        assert_eq!(names, vec!["alpha", "good"]);
        let errors: Vec<(String, String)> =
            catalogue.errors().iter().map(|e| (e.path.clone(), e.message.clone())).collect();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert_eq!(errors[0].0, bad.display().to_string());
        assert!(errors[0].1.starts_with("line 2: unknown field `descripton`"), "{}", errors[0].1);
        assert_eq!(errors[1].0, dir.path().join("empty").join(HAND_FILE).display().to_string());
        assert!(errors[1].1.starts_with("missing: every directory in the hands dir is a hand"), "{}", errors[1].1);
        assert_eq!(
            errors[2],
            (
                mismatch.display().to_string(),
                "name \"delta\" must equal the directory name \"gamma\": rename one of them".to_string()
            )
        );
    }

    #[test]
    fn a_broken_override_keeps_the_built_in_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        write_hand(dir.path(), "alpha", "name = \"alpha\"\n");
        let catalogue = Catalogue::load(&[ALPHA], Some(dir.path()));
        assert_eq!(catalogue.get("alpha").unwrap().source, BUILTIN_SOURCE);
        let message = &catalogue.errors()[0].message;
        assert!(message.ends_with("; the built-in hand \"alpha\" stays in use until this file is fixed"), "{message}");
    }

    #[test]
    fn a_missing_hands_dir_means_built_ins_only() {
        let catalogue = Catalogue::load(&[ALPHA], Some(Path::new("/nonexistent/agentos/hands")));
        assert_eq!((catalogue.len(), catalogue.errors()), (1, &[][..]));
    }

    #[test]
    fn an_unknown_hand_is_not_found_naming_the_known_ones() {
        let catalogue = Catalogue::load(&[ALPHA], None);
        assert_eq!(
            catalogue.get("beta").unwrap_err(),
            HandError::NotFound { name: "beta".into(), known: vec!["alpha".into()] }
        );
    }

    #[test]
    fn the_hands_dir_comes_from_the_env_then_the_config_then_the_config_dir() {
        let env = Some(PathBuf::from("/env/hands"));
        let cfg = HandsSettings { dir: Some(PathBuf::from("my-hands")) };
        let file = Some(Path::new("/home/u/.config/agentos/agentos.toml"));
        let config_dir = Some(PathBuf::from("/home/u/.config/agentos"));
        assert_eq!(hands_dir(env, &cfg, file, config_dir.clone()), Some(PathBuf::from("/env/hands")));
        assert_eq!(
            hands_dir(None, &cfg, file, config_dir.clone()),
            Some(PathBuf::from("/home/u/.config/agentos/my-hands"))
        );
        let absolute = HandsSettings { dir: Some(PathBuf::from("/srv/hands")) };
        assert_eq!(hands_dir(None, &absolute, file, None), Some(PathBuf::from("/srv/hands")));
        assert_eq!(
            hands_dir(Some(PathBuf::new()), &HandsSettings::default(), None, config_dir),
            Some(PathBuf::from("/home/u/.config/agentos/hands"))
        );
        assert_eq!(hands_dir(None, &HandsSettings::default(), None, None), None);
    }

    /// Every function id some worker of the repository declares in its `iii.worker.yaml`.
    fn declared_functions() -> BTreeSet<String> {
        let workers = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut ids = BTreeSet::new();
        for entry in std::fs::read_dir(&workers).unwrap() {
            let yaml = entry.unwrap().path().join("iii.worker.yaml");
            let Ok(text) = std::fs::read_to_string(&yaml) else { continue };
            let file: agentos_kit::ManifestFile =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", yaml.display()));
            ids.extend(file.functions);
        }
        assert!(ids.contains("code::apply_patch"), "the code-agent manifest was not found: {ids:?}");
        ids
    }

    #[test]
    fn every_shipped_hand_loads_and_calls_only_functions_that_exist() {
        let catalogue = Catalogue::load(BUILTIN_HANDS, None);
        assert_eq!(catalogue.errors(), &[]);
        assert_eq!(catalogue.len(), BUILTIN_HANDS.len());
        let exists = declared_functions();
        for hand in catalogue.hands() {
            assert_eq!(hand.source, BUILTIN_SOURCE);
            assert!(hand.schedule.is_none(), "{}: a shipped hand must not run on its own", hand.name);
            for id in &hand.allowed_functions {
                assert!(exists.contains(id), "hand {} allows {id}, which no worker declares", hand.name);
            }
        }
    }

    #[test]
    fn every_directory_under_hands_is_shipped() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hands");
        let mut on_disk: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut shipped: Vec<String> = BUILTIN_HANDS.iter().map(|b| b.name.to_string()).collect();
        shipped.sort();
        assert_eq!(shipped, on_disk, "add every hands/<name>/ to BUILTIN_HANDS");
    }

    #[test]
    fn the_shipped_hands_have_the_tools_their_roles_need() {
        let catalogue = Catalogue::load(BUILTIN_HANDS, None);
        let tools = |name: &str| catalogue.get(name).unwrap().allowed_functions.clone();
        assert_eq!(
            tools("coder"),
            [
                "code::read_file",
                "code::list",
                "code::search",
                "code::write_file",
                "code::apply_patch",
                "code::run_command",
                "memory::recall",
                "memory::store"
            ]
        );
        assert_eq!(
            tools("reviewer"),
            ["code::read_file", "code::list", "code::search", "code::run_command", "memory::recall"]
        );
        assert_eq!(tools("explorer"), ["code::read_file", "code::list", "code::search", "memory::recall"]);
        assert_eq!(catalogue.get("reviewer").unwrap().tier, Some(Tier::Deep));
    }
}
