//! `#[taskscope::main]`: `#[tokio::main]` with taskscope watching. The
//! same arguments (`flavor`, `worker_threads`), the same runtime, `main`'s
//! result handled as tokio's is; taskscope's own options come from the
//! `TASKSCOPE` environment variable, so the program keeps its command line.

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, ReturnType, Token};

/// Marks `async fn main` to run on the runtime `#[tokio::main]` would
/// build, watched by taskscope: see `taskscope::main`'s documentation.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let mut main: ItemFn = syn::parse2(item)?;
    if main.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            main.sig.fn_token,
            "#[taskscope::main] goes on `async fn main`, as #[tokio::main] does",
        ));
    }
    if !main.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &main.sig.inputs,
            "`main` takes no arguments (std::env::args() has the command line)",
        ));
    }
    let options = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(args)?;
    let mut flavor = None;
    let mut workers = None;
    for option in options {
        let name = option
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match (name.as_str(), &option.value) {
            (
                "flavor",
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }),
            ) => match s.value().as_str() {
                "current_thread" | "multi_thread" => flavor = Some(s.value()),
                other => {
                    return Err(syn::Error::new_spanned(
                        s,
                        format!(
                            "unknown flavor {other:?}; expected \"current_thread\" or \"multi_thread\""
                        ),
                    ));
                }
            },
            (
                "worker_threads",
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }),
            ) => workers = Some(n.base10_parse::<usize>()?),
            _ => {
                return Err(syn::Error::new_spanned(
                    option,
                    "expected `flavor = \"current_thread\"` or `\"multi_thread\"`, or \
                     `worker_threads = N`, as #[tokio::main] takes",
                ));
            }
        }
    }
    let runtime = match (flavor.as_deref(), workers) {
        (Some("current_thread"), Some(_)) => {
            return Err(syn::Error::new(
                proc_macro2::Span::call_site(),
                "`worker_threads` goes with the multi_thread flavor",
            ));
        }
        (Some("current_thread"), None) => quote!(::taskscope::Watch::new().current_thread()),
        (_, Some(n)) => quote!(::taskscope::Watch::new().multi_thread(#n)),
        (_, None) => quote!(::taskscope::Watch::new().multi_thread_like_tokio()),
    };
    let body = &main.block;
    let output = match &main.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    main.sig.asyncness = None;
    main.sig.output = syn::parse_quote!(-> ::std::process::ExitCode);
    let attrs = &main.attrs;
    let vis = &main.vis;
    let sig = &main.sig;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #runtime.run_service(async move {
                let out: #output = #body;
                out
            })
        }
    })
}
