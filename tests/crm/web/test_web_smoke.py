def test_pages_render_for_manager(client_for, org, make_household):
    h = make_household()
    c = client_for(org.manager)
    for url in [
        "/home",
        "/pipeline",
        "/households",
        f"/households/{h.id}",
        f"/households/{h.id}/note",
        f"/households/{h.id}/call",
        f"/households/{h.id}/move",
        f"/households/{h.id}/visits/book",
        f"/households/{h.id}/task",
        f"/households/{h.id}/assign",
        "/households?q=Sam",
        "/households?q=LE1",
        "/households?format=csv",
        "/households?format=xlsx",
    ]:
        r = c.get(url)
        assert r.status_code == 200, (url, r.get_data(as_text=True)[-2000:])
