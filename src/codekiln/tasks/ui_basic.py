"""The built-in `ui-basic` suite: textual UI descriptions for self-contained HTML pages (the `html` kind).

Written for this project: 50 page templates (login forms, pricing tables, dashboards, settings pages,
checkouts, ...) each filled in for 5 of 20 made-up businesses, 250 descriptions in all. The split is by
template, as Spider splits by database: the 40 train templates and the 10 test templates share no wording,
so curation's n-gram decontamination does not flag train prompts, and the test split asks for page types in
words the model was never trained on. Quoted labels ('Sign in') are what the page must show. Each task carries
checkable requirements (`meta.requirements`: labels, counts, side-by-side and stacked layouts, order, headings,
buttons, colour), checked on the rendered page (`codekiln.verify.ui_requirements`), so scores rank pages.
"""

from __future__ import annotations

from codekiln.records import Task

# name, what it is, three offerings, three metrics
DOMAINS: tuple[tuple[str, str, tuple[str, str, str], tuple[str, str, str]], ...] = (
    ("Bean & Leaf", "coffee shop", ("Espresso", "Oat latte", "Cold brew"), ("Orders", "Revenue", "Avg. ticket")),
    ("Trailhead", "hiking gear store", ("Daypack", "Trekking poles", "Rain shell"), ("Sales", "Returns", "Visitors")),
    ("PixelForge", "design agency", ("Branding", "Web design", "Illustration"), ("Projects", "Clients", "Hours billed")),
    ("Greenroot", "plant nursery", ("Monstera", "Fiddle leaf fig", "Snake plant"), ("Orders", "Deliveries", "Stock alerts")),
    ("Northwind Bank", "online bank", ("Checking", "Savings", "Credit card"), ("Balance", "Spending", "Savings rate")),
    ("FitPulse", "fitness app", ("Yoga", "HIIT", "Cycling"), ("Workouts", "Calories", "Active minutes")),
    ("Bookhaven", "bookstore", ("Fiction", "Biography", "Poetry"), ("Books sold", "Members", "Events")),
    ("CloudNest", "cloud hosting company", ("Starter", "Team", "Enterprise"), ("Uptime", "Requests", "Errors")),
    ("Harbor Vet", "veterinary clinic", ("Checkup", "Vaccination", "Dental care"), ("Appointments", "Patients", "Reviews")),
    ("SkyRoute", "travel booking site", ("Flights", "Hotels", "Car rental"), ("Bookings", "Cancellations", "Revenue")),
    ("Melody Lane", "music school", ("Piano", "Guitar", "Violin"), ("Students", "Lessons", "Teachers")),
    ("TaskPilot", "project management tool", ("Tasks", "Milestones", "Reports"), ("Open tasks", "Completed", "Overdue")),
    ("FreshCrate", "meal kit delivery service", ("Veggie box", "Family box", "Protein box"), ("Subscribers", "Boxes shipped", "Churn")),
    ("Lumen Labs", "science museum", ("Planetarium", "Robotics hall", "Dinosaur wing"), ("Visitors", "Tickets", "Memberships")),
    ("Urban Wheels", "bike rental service", ("City bike", "E-bike", "Cargo bike"), ("Rides", "Active bikes", "Revenue")),
    ("Sparkle Clean", "home cleaning service", ("Standard clean", "Deep clean", "Move-out clean"), ("Jobs", "Ratings", "Revenue")),
    ("CodeCamp", "online coding school", ("Python basics", "Web development", "Data science"), ("Enrollments", "Completion rate", "Reviews")),
    ("Sunny Days", "daycare centre", ("Infants", "Toddlers", "Preschool"), ("Children", "Staff", "Waitlist")),
    ("Peak Realty", "real estate agency", ("Apartments", "Houses", "Offices"), ("Listings", "Viewings", "Sales")),
    ("Arcade Vault", "game store", ("Board games", "Video games", "Puzzles"), ("Sales", "Pre-orders", "Members")),
)

TRAIN_TEMPLATES: tuple[str, ...] = (
    "A login page for {name}: a centered card with the heading 'Sign in to {name}', an email field, a password "
    "field, a 'Remember me' checkbox and a 'Sign in' button, with a 'Forgot password?' link below.",
    "A sign-up form for {name}, a {what}, with fields for full name, email and password, a checkbox to accept "
    "the terms, and a 'Create account' button.",
    "A pricing section for {name} with three plans side by side, 'Basic', 'Plus' and 'Premium', each showing a "
    "monthly price, a list of three features and a 'Choose plan' button.",
    "An analytics dashboard for {name} with a top bar, three summary cards for '{m0}', '{m1}' and '{m2}', and a "
    "table of recent activity with date, description and amount columns.",
    "A settings page for a {name} account with sections 'Profile' and 'Notifications': a text field for the "
    "display name, a dropdown to pick the language, two toggle switches for email and SMS alerts, and a "
    "'Save changes' button.",
    "A product grid for {name} showing three cards for '{i0}', '{i1}' and '{i2}', each with an image "
    "placeholder, a short description, a price and an 'Add to cart' button.",
    "A contact page for {name} with the heading 'Get in touch', fields for name and email, a message box, and "
    "a 'Send message' button, plus the opening hours listed beside the form.",
    "A landing page hero for {name}, a {what}: a navigation bar with links 'Home', 'About' and 'Contact', a "
    "large headline, one sentence of supporting text and a 'Get started' call-to-action button.",
    "A frequently asked questions page for {name} with the title 'FAQ' and a list of four questions about the "
    "{what}, each followed by a short answer.",
    "A newsletter signup box for {name}: a heading 'Stay in the loop', one line of text, an email input and a "
    "'Subscribe' button on the same row.",
    "A checkout page for {name} with an order summary listing '{i0}' and '{i1}' with their prices and a total, "
    "a shipping address form (street, city, postal code) and a 'Place order' button.",
    "A user profile page on {name} with a round avatar image, the user's name as a heading, a short bio, and "
    "counts for followers, following and posts.",
    "An 'Our team' page for {name} showing four team members in a grid, each with a photo, a name and a job "
    "title at the {what}.",
    "A friendly 404 error page for {name} with a big '404' heading, the text 'Page not found', and a 'Back to "
    "home' button.",
    "A search results page for {name} with a search box at the top holding a query, a 'Search' button, and a "
    "list of five results, each with a title link and a one-line snippet.",
    "An appointment booking form for {name} with a dropdown to choose '{i0}', '{i1}' or '{i2}', a date input, a "
    "time input and a 'Book now' button.",
    "A blog index page for {name} titled 'Latest posts' with three post previews, each showing a thumbnail "
    "image, a title, a date and a 'Read more' link.",
    "A page footer for {name} with three columns of links headed 'Company', 'Support' and 'Legal', a small "
    "copyright line and social media icons.",
    "A to-do list app for the {name} team with an input field, an 'Add' button and a list of four tasks, each "
    "with a checkbox; completed tasks are shown struck through.",
    "A notifications panel for {name} with the heading 'Notifications', a 'Mark all as read' button, and a list "
    "of five notifications, each with an icon, a message and a time.",
    "An invoice from {name} with the company name at the top, a billing address, a table of line items ('{i0}', "
    "'{i1}', '{i2}') with quantity, unit price and amount, and a total row.",
    "A testimonials section for {name} with the heading 'What our customers say' and three quote cards, each "
    "with a short quote, the customer's name and a five-star rating.",
    "An order tracking page for {name} showing the order number, a progress bar with the steps 'Ordered', "
    "'Shipped', 'Out for delivery' and 'Delivered', and the estimated delivery date.",
    "An admin page for {name} listing users in a table with columns for name, email, role and status, a search "
    "input above the table and an 'Invite user' button.",
    "A monthly calendar view for {name} with the month name as a heading, 'Previous' and 'Next' buttons, a "
    "seven-column grid of days, and two days marked with events.",
    "A chat window for {name} support with a header 'Live chat', an area showing four messages alternating "
    "between a customer and an agent, and a message input with a 'Send' button.",
    "A simple home page for {name} with a heading and a paragraph about the {what}, and a cookie consent banner "
    "at the bottom with the text 'We use cookies' and buttons 'Accept' and 'Decline'.",
    "A features section for {name} with the heading 'Why choose {name}?' and a grid of four features, each "
    "with an icon, a bold title and a sentence of description.",
    "A key numbers strip for {name} with four large figures labelled '{m0}', '{m1}', '{m2}' and 'Customers', "
    "on a coloured background.",
    "A file upload page for {name} with a dashed drop zone labelled 'Drag files here', a 'Browse files' button, "
    "and a list of two uploaded files with their sizes.",
    "An event page for the {name} open day with the event title, the date and place, a short description, a "
    "schedule list of three sessions with times, and a 'Register' button.",
    "An app layout for {name} with a left sidebar menu ('Dashboard', 'Orders', 'Customers', 'Settings'), a top "
    "bar with a search box, and a main area with a welcome heading.",
    "A password reset page for {name} with the heading 'Reset your password', an email field, a 'Send reset "
    "link' button and a link back to the login page.",
    "A feedback survey for {name} asking 'How satisfied are you?' with five radio buttons from 'Very "
    "unsatisfied' to 'Very satisfied', a comment box and a 'Submit' button.",
    "A comparison table for {name} comparing '{i0}', '{i1}' and '{i2}' across four rows of features, with "
    "check marks and crosses in the cells.",
    "A menu page for {name} listing offerings in two sections, 'Popular' and 'New', each item with its name, a "
    "one-line description and a price.",
    "A history timeline for {name} titled 'Our story' with five milestones along a vertical line, each with a "
    "year and a short description of what the {what} achieved.",
    "An empty-state screen for the {name} inbox with an illustration, the message 'No messages yet' and a "
    "'Compose' button.",
    "A payment form for {name} with fields for cardholder name, card number, expiry date and CVC, a 'Save this "
    "card' checkbox, and a 'Pay now' button.",
    "An onboarding screen for {name} showing step 2 of 3, with a progress indicator, the heading 'Tell us about "
    "yourself', a dropdown to choose a role, and 'Back' and 'Continue' buttons.",
)

TEST_TEMPLATES: tuple[str, ...] = (
    "Design a compact sign-in box for the {name} staff portal: username and password inputs stacked "
    "vertically, a 'Log in' button spanning the full width, and a small 'Need help?' link.",
    "Build a two-tier subscription chooser for {name}: a 'Monthly' plan and an 'Annual' plan shown as cards, "
    "the annual one highlighted with a 'Best value' badge, each listing what it includes and a 'Subscribe' button.",
    "Create an operations overview for {name} managers: a header with today's date, a row of tiles for '{m0}', "
    "'{m1}' and '{m2}', a bar chart drawn with divs, and a list of the latest alerts.",
    "Make a privacy preferences screen for {name} where people can switch off 'Personalised ads', 'Usage "
    "analytics' and 'Location access' with toggles, plus a 'Delete my data' button in red.",
    "Produce a product detail page for the '{i0}' offered by {name}: a large picture on the left; name, price and "
    "star rating on the right; a quantity selector and an 'Add to basket' button; a description underneath.",
    "Lay out a job openings page for {name} with the heading 'Careers', filter buttons for departments, and four "
    "open roles showing title, location and an 'Apply' link.",
    "Show a weather widget for the {name} website: the city name, a sun icon, the current temperature in large "
    "type, and a five-day forecast row with a day name and temperature each.",
    "Write a recipe page hosted by {name}: the dish name, a photo, a bulleted ingredients list, numbered "
    "preparation steps and a 'Cooking time' badge.",
    "Render a leaderboard for the {name} community: a title 'Top members', a table ranking ten people with "
    "position, name and points, the top three highlighted.",
    "Put together a support ticket form for {name} with a subject line, a category dropdown, a priority radio "
    "group (low, normal, high), a details text area and a 'Submit ticket' button.",
)

# Checkable requirements per template (index into TRAIN_TEMPLATES + TEST_TEMPLATES), in the grammar of
# codekiln.verify.ui_requirements, checked on the rendered page; the quoted labels are added as `text:` ones.
# Each says only what its description says ("side by side", "beside", "below", "in a grid", "five radio buttons",
# "in red"); where the description leaves the layout open, so does the requirement.
REQUIREMENTS: tuple[tuple[str, ...], ...] = (
    ("heading:Sign in to {name}", "button:Sign in", "count:password>=1", "count:checkbox>=1", "count:input>=3",
     "stack:Sign in|Forgot password?"),
    ("count:input>=4", "count:password>=1", "count:checkbox>=1", "button:Create account"),
    ("row:Basic|Plus|Premium", "count:button>=3", "count:repeat>=3", "columns:3"),
    ("count:repeat>=3", "count:row>=3", "order:{m0}|@table"),
    ("heading:Profile", "heading:Notifications", "order:Profile|Notifications", "count:select>=1", "count:input>=3",
     "button:Save changes"),
    ("row:{i0}|{i1}|{i2}", "count:button>=3", "count:repeat>=3"),
    ("heading:Get in touch", "count:textarea=1", "count:input>=3", "button:Send message", "columns:2"),
    ("row:Home|About|Contact", "button:Get started", "count:link>=3", "order:Home|Get started", "count:heading>=1"),
    ("heading:FAQ", "count:repeat>=4", "count:heading>=1"),
    ("heading:Stay in the loop", "row:@input|Subscribe", "button:Subscribe", "count:input>=1"),
    ("order:{i0}|{i1}", "text:Total", "count:input>=3", "button:Place order"),
    ("count:image>=1", "text:Followers", "text:Following", "text:Posts", "count:heading>=1"),
    ("count:repeat>=4", "count:image>=4", "columns:2"),
    ("large:404", "stack:404|Page not found", "button:Back to home"),
    ("count:input>=1", "button:Search", "count:link>=5", "count:repeat>=5"),
    ("count:select>=1", "count:date>=1", "count:time>=1", "button:Book now"),
    ("heading:Latest posts", "count:repeat>=3", "count:link>=3"),
    ("row:Company|Support|Legal", "columns:3", "count:link>=6"),
    ("count:input>=5", "button:Add", "count:checkbox>=4", "struck"),
    ("heading:Notifications", "button:Mark all as read", "count:repeat>=5"),
    ("count:row>=4", "order:{i0}|{i1}|{i2}", "text:Total", "count:heading>=1"),
    ("heading:What our customers say", "count:repeat>=3"),
    ("row:Ordered|Shipped|Out for delivery|Delivered",),
    ("count:row>=2", "stack:@input|@table", "button:Invite user", "text:Role", "text:Status"),
    ("order:Previous|Next", "button:Previous", "button:Next", "columns:7"),
    ("heading:Live chat", "count:repeat>=4", "count:input>=1", "button:Send"),
    ("button:Accept", "button:Decline", "count:heading>=1"),
    ("heading:Why choose {name}?", "count:repeat>=4", "columns:2"),
    ("row:{m0}|{m1}|{m2}|Customers", "bg:colored"),
    ("button:Browse files", "count:repeat>=2"),
    ("button:Register", "count:repeat>=3", "count:heading>=1"),
    ("stack:Dashboard|Orders|Customers|Settings", "count:input>=1", "count:heading>=1"),
    ("heading:Reset your password", "button:Send reset link", "count:input>=1", "count:link>=1"),
    ("count:radio=5", "order:Very unsatisfied|Very satisfied", "count:textarea=1", "button:Submit"),
    ("row:{i0}|{i1}|{i2}", "count:row>=5"),
    ("heading:Popular", "heading:New", "order:Popular|New", "count:repeat>=3"),
    ("heading:Our story", "count:repeat>=5"),
    ("count:image>=1", "button:Compose", "order:No messages yet|Compose"),
    ("count:input>=5", "count:checkbox>=1", "button:Pay now"),
    ("heading:Tell us about yourself", "count:select>=1", "order:Back|Continue", "button:Continue"),
    # test templates
    ("count:password>=1", "count:input>=2", "button:Log in", "stack:Username|Password"),
    ("count:repeat>=2", "count:button>=2", "color:Best value=colored", "button:Subscribe"),
    ("row:{m0}|{m1}|{m2}", "count:repeat>=3", "count:heading>=1"),
    ("count:input>=3", "order:Personalised ads|Usage analytics|Location access", "button:Delete my data",
     "color:Delete my data=red"),
    ("row:@image|{i0}", "button:Add to basket", "count:input>=1", "count:heading>=1"),
    ("heading:Careers", "count:button>=2", "count:repeat>=4", "count:link>=4"),
    ("columns:5", "count:repeat>=5", "count:heading>=1"),
    ("count:image>=1", "count:li>=4", "count:heading>=1"),
    ("heading:Top members", "count:row>=10"),
    ("count:select>=1", "count:radio=3", "count:textarea=1", "button:Submit ticket"),
)

PER_TEMPLATE = 5


Domain = tuple[str, str, tuple[str, str, str], tuple[str, str, str]]


def _fill(template: str, domain: Domain) -> str:
    name, what, items, metrics = domain
    return template.format(name=name, what=what, i0=items[0], i1=items[1], i2=items[2],
                           m0=metrics[0], m1=metrics[1], m2=metrics[2])


def load() -> list[Task]:
    """200 train and 50 test html tasks; ids `ui-basic/<split>-<template>-<domain>`."""
    tasks = []
    for split, templates, offset in (("train", TRAIN_TEMPLATES, 0), ("test", TEST_TEMPLATES, len(TRAIN_TEMPLATES))):
        for t, template in enumerate(templates):
            number = offset + t
            for j in range(PER_TEMPLATE):
                d = (number * 3 + j * 4) % len(DOMAINS)  # each template meets 5 different businesses
                description = _fill(template, DOMAINS[d])
                requirements = [_fill(r, DOMAINS[d]) for r in REQUIREMENTS[number]]
                tasks.append(Task(task_id=f"ui-basic/{split}-{number:02d}-{d:02d}", kind="html", prompt=description,
                                  split=split, description=description,
                                  meta={"template": number, "business": DOMAINS[d][0],
                                        "requirements": requirements}))
    return tasks
