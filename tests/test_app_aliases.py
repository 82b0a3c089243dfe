"""Names as newsrooms write them, in the app: aliases edited on the Gallery page and found by its
search, a name typed another way recognised when enrolling, "also known as" on Identify, and the
Archive's person picker offering aliases."""

from __future__ import annotations

import unicodedata

from test_app import app_env, enrol, open_app, rerun, speakers, texts, wav, weights  # noqa: F401 (fixtures)

DAHAL = "पुष्पकमल दाहाल"


def shown_names(at) -> list[str]:
    """The names in the gallery's table."""
    return list(at.dataframe[0].value["Name"])


def test_aliases_are_edited_on_the_gallery_page_and_searched():
    enrol(DAHAL, wav(0, 6.0), party="Maoist Centre")
    enrol("Ann Lee", wav(1, 6.0))
    at = open_app("gallery")
    at.selectbox(key="edit_speaker").set_value(DAHAL)
    rerun(at)
    at.text_area(key=f"edit_aliases_{DAHAL}_0").input("Prachanda\n\n  प्रचण्ड \nPushpa Kamal Dahal")
    at.button(key="edit_save_0").click()
    rerun(at)
    assert "Saved" in texts(at) and not at.error
    assert speakers()[DAHAL].aliases == ("Prachanda", "प्रचण्ड", "Pushpa Kamal Dahal")
    assert speakers()[DAHAL].party == "Maoist Centre"

    at.text_input(key="gallery_search").input("PUSHPA  kamal")  # an alias, spaced and cased otherwise
    rerun(at)
    assert shown_names(at) == [DAHAL]
    assert list(at.dataframe[0].value["Also known as"]) == ["Prachanda, प्रचण्ड, Pushpa Kamal Dahal"]
    at.text_input(key="gallery_search").input("")
    rerun(at)

    # another speaker cannot take an alias: said in one sentence, nothing saved
    at.selectbox(key="edit_speaker").set_value("Ann Lee")
    rerun(at)
    at.text_area(key="edit_aliases_Ann Lee_1").input("Annie\nprachanda")
    at.text_input(key="edit_name_Ann Lee_1").input("Ann Leigh")
    at.button(key="edit_save_1").click()
    rerun(at)
    assert "'prachanda' cannot be an alias of 'Ann Lee': it already names" in at.error[0].value
    assert speakers()["Ann Lee"].aliases == () and "Ann Leigh" not in speakers()

    # enrolling the name typed another way (decomposed, two spaces) adds to the speaker enrolled
    at.text_input(key="enrol_name_1").input(unicodedata.normalize("NFD", "पुष्पकमल  दाहाल"))
    rerun(at)
    assert f"**{DAHAL}** is already enrolled: these clips will be added to them." in texts(at)
    at.text_input(key="enrol_name_1").input("prachanda")
    rerun(at)
    assert f"**{DAHAL}** is already enrolled" in texts(at)


def test_identify_says_who_else_the_speaker_is_known_as():
    dahal = wav(0, 6.0)
    enrol(DAHAL, dahal)
    from speakerid import Gallery, paths

    with Gallery(paths.gallery_path()) as gallery:
        gallery.set_aliases(DAHAL, ["Prachanda", "प्रचण्ड"])
    at = open_app()
    at.file_uploader(key="identify_upload").upload("clip.wav", dahal, "audio/wav")
    rerun(at)
    assert "Also known as: Prachanda, प्रचण्ड" in texts(at)


def test_the_archive_picker_offers_aliases():
    enrol(DAHAL, wav(0, 6.0))
    from speakerid import Gallery, paths

    with Gallery(paths.gallery_path()) as gallery:
        gallery.add_alias(DAHAL, "Prachanda")
    at = open_app("archive")
    picker = at.selectbox(key="archive_person")
    assert picker.options == [DAHAL, f"Prachanda ({DAHAL})"]
    picker.set_value("Prachanda")
    rerun(at)
    assert "Prachanda is not heard anywhere in the archive." in texts(at) and not at.error
