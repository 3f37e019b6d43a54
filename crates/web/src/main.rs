//! The Hush web app's entry point: it only mounts [`hush_web::App`].
fn main() {
    console_error_panic_hook_install();
    leptos::mount::mount_to_body(hush_web::App);
}

fn console_error_panic_hook_install() {
    std::panic::set_hook(Box::new(|info| {
        web_sys_log(&info.to_string());
    }));
}

fn web_sys_log(message: &str) {
    leptos::logging::error!("{message}");
}
