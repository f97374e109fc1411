"""The rules: plain functions that the web, the bot, the scheduler and the command line all
call, each taking the acting user as an argument. See the README's architecture section."""
