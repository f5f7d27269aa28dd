// An Express app tracked by churnlens, with the read API mounted under /analytics.
//   cd churn-node && npm install && node ../examples/express_app.js
//   curl localhost:3000/hello; curl 'localhost:3000/analytics/active-users?period=day'
const express = require('express')
const { Analytics } = require('../churn-node')
const { track, readApi } = require('../churn-node/express')

const analytics = Analytics.inMemory()
const app = express()
app.use(track(analytics, { userId: (req) => req.get('x-user-id') }))
app.get('/hello', (req, res) => res.send('hello'))
app.use('/analytics', readApi(analytics))

const port = Number(process.env.PORT || 3000)
const server = app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`))
process.on('SIGINT', () => server.close(() => analytics.close().then(() => process.exit(0))))
