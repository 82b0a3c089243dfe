"""Accounts (admins only): who may sign in, with which role; add people, change a role, remove
someone. The same as ``python -m speakerid app-user`` on the server (:mod:`speakerid.app.accounts`)."""

from __future__ import annotations

import streamlit as st

import speakerid_ui as ui
from speakerid import SpeakerIDError
from speakerid.app.accounts import ADMIN, ROLES, VIEWER, add_account, load_accounts, remove_account, set_role
from speakerid.i18n import _
from speakerid_ui.access_gate import SIGNED_IN_USER, role_words


def role_help(role: str) -> str:
    """What ``role`` may do, in words."""
    return {"viewer": _("identify, search the archive, listen"),
            "editor": _("also enrol, edit, rename and remove speakers, name voices, calibrate, add to "
                        "the archive"),
            "admin": _("also accounts, models and training")}[role]


def done(message: str) -> None:
    """Report a change and redraw the page with empty forms."""
    ui.flash(message)
    st.session_state["accounts_round"] = st.session_state.get("accounts_round", 0) + 1
    st.rerun()


def role_choice(label: str, key: str, index: int = 0) -> str:
    return st.selectbox(label, ROLES, index=index, key=key,
                        format_func=lambda r: f"{role_words(r)}: {role_help(r)}")


def add_person(round_: int) -> None:
    with st.form(f"accounts_add_{round_}", border=True):
        st.markdown(_("**Add someone**"))
        name = st.text_input(_("Name"), key=f"accounts_new_name_{round_}")
        role = role_choice(_("Role"), f"accounts_new_role_{round_}", ROLES.index(VIEWER))
        password = st.text_input(_("Password (8 characters or more)"), type="password",
                                 key=f"accounts_new_password_{round_}")
        again = st.text_input(_("The password again"), type="password", key=f"accounts_new_again_{round_}")
        if not st.form_submit_button(_("Add"), type="primary", icon=":material/person_add:",
                                     key="accounts_add_go"):
            return
    if password != again:
        st.error(_("The two passwords differ; nothing was changed."), icon=":material/error:")
        return
    try:
        account = add_account(name, password, role)
    except SpeakerIDError as exc:
        st.error(_("Nobody was added: {why}.").format(why=exc), icon=":material/error:")
        return
    done(_("Added **{name}** ({role}): give them their password in person.").format(
        name=ui.md(account.name), role=role_words(account.role)))


def change_person(names: list[str], roles: dict[str, str], round_: int) -> None:
    """A person's role, or their removal (confirmed); never one's own account."""
    me = st.session_state.get(SIGNED_IN_USER)
    others = [n for n in names if n != me]
    if not others:
        st.caption(_("Nobody else has an account yet."))
        return
    chosen = st.selectbox(_("Person"), others, key="accounts_person")
    role = role_choice(_("Role"), f"accounts_role_{chosen}_{round_}", ROLES.index(roles[chosen]))
    if st.button(_("Change the role"), key="accounts_role_go", disabled=role == roles[chosen]):
        try:
            set_role(chosen, role)
        except SpeakerIDError as exc:
            st.error(_("The role was not changed: {why}.").format(why=exc), icon=":material/error:")
        else:
            done(_("**{name}** is now {role}.").format(name=ui.md(chosen), role=role_words(role)))
    if st.session_state.get("accounts_confirm_remove") != chosen:
        if st.button(_("Remove {name}…").format(name=chosen), icon=":material/person_remove:",
                     key="accounts_remove_ask"):
            st.session_state["accounts_confirm_remove"] = chosen
            st.rerun()
        return
    st.warning(_("Remove **{name}**'s account? They are signed out at once.").format(name=ui.md(chosen)),
               icon=":material/person_remove:")
    if st.button(_("Yes, remove"), type="primary", key="accounts_remove_yes"):
        st.session_state.pop("accounts_confirm_remove", None)
        try:
            remove_account(chosen)
        except SpeakerIDError as exc:
            st.error(_("Nobody was removed: {why}.").format(why=exc), icon=":material/error:")
        else:
            done(_("Removed **{name}**.").format(name=ui.md(chosen)))


def main() -> None:
    ui.ensure_app_frame()
    ui.require_role(ADMIN)
    st.title(_("Accounts"))
    st.caption(_("Who may sign in, and what each may do. Passwords are kept only as salted hashes; "
                 "on the server, `python -m speakerid app-user` does the same."))
    ui.show_flash()
    try:
        accounts = sorted(load_accounts().values(), key=lambda a: a.name.casefold())
    except SpeakerIDError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    st.dataframe([{_("Name"): a.name, _("Role"): role_words(a.role), _("May"): role_help(a.role)}
                  for a in accounts], hide_index=True, width="stretch", key="accounts_table")
    round_ = st.session_state.setdefault("accounts_round", 0)
    left, right = st.columns(2, gap="large")
    with left:
        add_person(round_)
    with right:
        st.markdown(_("**Change a role or remove someone**"))
        change_person([a.name for a in accounts], {a.name: a.role for a in accounts}, round_)


main()
