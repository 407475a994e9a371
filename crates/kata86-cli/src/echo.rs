//! The command line that reproduces a run, from its parsed arguments.

use clap::CommandFactory;
use serde_json::Value;

/// `kata86 SUB ...` with every argument `args` holds, in the order
/// `--help` lists them: positional values first, then `--long value`, one
/// per item of a list, and a bare `--switch` when it is on. The output
/// options are `serde(skip)` and so never echoed. What the struct does not
/// hold (an unset `Option`, an empty list, a switch off) is left out, and
/// what it holds by default (a `default_value_t`, the seed among them) is
/// spelled out. Being generic, it echoes a new flag without being told.
pub fn command<T: serde::Serialize>(sub: &str, args: &T) -> String {
    let json = serde_json::to_value(args).unwrap_or(Value::Null);
    let mut line = format!("kata86 {sub}");
    let cli = crate::args::Cli::command();
    let Some(cmd) = cli.find_subcommand(sub) else {
        return line;
    };
    let (positional, named): (Vec<_>, Vec<_>) =
        cmd.get_arguments().partition(|a| a.is_positional());
    for arg in positional.into_iter().chain(named) {
        let Some(v) = json.get(arg.get_id().as_str()) else {
            continue;
        };
        let items = match v {
            Value::Array(xs) => xs.iter().collect(),
            v => vec![v],
        };
        for x in items {
            let value = match x {
                Value::Null | Value::Bool(false) => continue,
                Value::Bool(true) => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(match (n.as_u64(), n.as_i64(), n.as_f64()) {
                    (Some(u), _, _) => u.to_string(),
                    (_, Some(i), _) => i.to_string(),
                    (_, _, Some(f)) => f.to_string(),
                    _ => n.to_string(),
                }),
                other => Some(other.to_string()),
            };
            match (arg.get_long(), value) {
                (Some(long), Some(v)) => line.push_str(&format!(" --{long} {v}")),
                (Some(long), None) => line.push_str(&format!(" --{long}")),
                (None, Some(v)) => line.push_str(&format!(" {v}")),
                (None, None) => {}
            }
        }
    }
    line
}
