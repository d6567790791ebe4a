def site(request):
    return {"site_name": "Polls site"}
